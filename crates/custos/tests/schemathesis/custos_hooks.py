"""Schemathesis hooks for Custos' API document (tests/schemathesis.rs).

A dock's upload is raw bytes in `application/offset+octet-stream` (the
upload protocol, docs/PROTOCOL.md): schemathesis has no serializer for it.
"""
import schemathesis


@schemathesis.serializer("application/offset+octet-stream")
def upload_bytes(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8")
