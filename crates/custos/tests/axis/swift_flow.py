"""The Axis system controller's flow (Body Worn Integration API, README and
EXAMPLE.md), driven by python-swiftclient: a Swift client nobody at Custos
wrote. Authenticates, reads System/Capabilities.json and Categories.json,
registers the system, a user and a camera, uploads a recording with two clips
(one with its length announced, one chunked), a key file, a bookmark and a
GNSS trail, completes it, and reads back what HEAD says. Prints what it saw
as JSON for the Rust test (crates/custos/tests/it/axis_swift.rs) to check.

Usage: swift_flow.py AUTH_URL USER KEY CACERT CLIP1 CLIP2
"""
import hashlib
import json
import sys
from urllib.parse import quote

from swiftclient import client

auth_url, user, key, cacert, clip1, clip2 = sys.argv[1:7]

USER = "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10"
SYSTEM = "0b7a3f52-6f3e-4a53-9a7e-3c1f7e0d2b11"
SERIAL = "ACCC8EF0A1B2"
RECORDING = f"{USER}_{SERIAL}_20260823T114706Z"
START, TRIGGER, STOP = 1787485620, 1787485626, 1787485700


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(kind, **items):
    """Metadata headers as the spec writes them: X-<Kind>-Meta-Key, values
    percent-encoded UTF-8."""
    return {f"X-{kind}-Meta-{k}": quote(str(v), safe="") for k, v in items.items()}


conn = client.Connection(authurl=auth_url, user=user, key=key, auth_version="1",
                         cacert=cacert, retries=0)
seen = {}

# The system controller reads what the destination can do and its categories;
# the Etag must be the body's MD5 (else the SCU logs "object corrupt").
for name in ("Capabilities.json", "Categories.json"):
    headers, body = conn.get_object("System", name)
    seen[name] = {
        "etag_is_md5": headers["etag"] == hashlib.md5(body).hexdigest(),
        "json": json.loads(body),
    }

conn.put_container("System")
conn.put_object("System", SYSTEM, contents=b"",
                headers=meta("Object", ConnectionId="conn-1", SystemName="Gemeente Utrecht BWS"))
conn.put_container("Users")
conn.put_object("Users", USER, contents=b"",
                headers=meta("Object", Name="Renée de Vries ✓", Active="True"))
conn.put_container("Devices")
conn.put_object("Devices", SERIAL, contents=b"",
                headers=meta("Object", Name="BWC 7", Model="W110", Active="True"))

container_meta = meta("Container", ContainerName=RECORDING, BWCSerialNumber=SERIAL,
                      SCUSerialNumber="B8A44F000001", FirmwareVersion="11.9.60",
                      UserID=USER, TriggerOn="Button", TriggerOnTime=TRIGGER,
                      TriggerOnTimeISO=iso(TRIGGER),
                      TriggerOnLocation="52.0907 5.1214 8 1787485626",
                      StartTime=START, StartTimeISO=iso(START), TimeZone="Europe/Amsterdam",
                      BWCModel="W110", Status="Transferring")
resp = {}
conn.put_container(RECORDING, headers=container_meta, response_dict=resp)
seen["container_put"] = resp["status"]

etags = {}
clip_names = [f"{START}_4711.mp4", f"{START + 40}_4711.mp4"]
for i, (path, name) in enumerate(zip((clip1, clip2), clip_names)):
    start, stop = START + 40 * i, min(START + 40 * (i + 1), STOP)
    headers = meta("Object", StartTime=start, StartTimeISO=iso(start), StopTime=stop,
                   StopTimeISO=iso(stop), ContainerType="mp4")
    with open(path, "rb") as f:
        if i == 0:
            size = len(open(path, "rb").read())
            etags[name] = conn.put_object(RECORDING, name, contents=f, content_length=size,
                                          headers=headers)
        else:
            # No length: swiftclient sends it chunked.
            etags[name] = conn.put_object(RECORDING, name, contents=f, chunk_size=65536,
                                          headers=headers)
key_file = json.dumps({"EncryptedKey": "AAAA", "ContentEncryptionIV": "BBBB",
                       "PublicKeyId": "contentkey"}).encode()
etags["key"] = conn.put_object(RECORDING, f"{START}_4711.key", contents=key_file,
                               headers=meta("Object", StartTime=START, FileType="key"))
etags["bookmark"] = conn.put_object(
    RECORDING, f"bookmark_{START + 10}_1", contents="Ruzie bij de ingang".encode(),
    headers=meta("Object", CategoryID="incident", CategoryName="Incident",
                 Tags="TriggerOn:Button", StartTime=iso(START + 10)))
trail = json.dumps({"CoordinateEntries": [
    {"LocationWKT": "POINT(5.1214 52.0907)", "SecondsFromStart": 4.0,
     "Timestamp": iso(START + 4)},
    {"LocationWKT": "POINT(5.1220 52.0911)", "SecondsFromStart": 30.0,
     "Timestamp": iso(START + 30)}]}).encode()
etags["trail"] = conn.put_object(RECORDING, f"20260823_114700_4711_{SERIAL}_gpstrail.json",
                                 contents=trail, headers=meta("Object", FileType="json"))
seen["etags"] = etags

resp = {}
conn.post_container(RECORDING, headers=meta("Container", Status="Complete", StopTime=STOP,
                                            StopTimeISO=iso(STOP), TriggerOff="Button",
                                            TriggerOffTime=STOP, TriggerOffTimeISO=iso(STOP)),
                    response_dict=resp)
seen["complete"] = resp["status"]
head = conn.head_container(RECORDING)
seen["container_head"] = {k: v for k, v in head.items() if k.startswith("x-container-")}
head = conn.head_object("Users", USER)
seen["user_head"] = {k: v for k, v in head.items() if k.startswith("x-object-meta-")}
head = conn.head_object(RECORDING, clip_names[0])
seen["clip_head"] = {"etag": head["etag"], "content-length": head["content-length"]}
print(json.dumps(seen))
