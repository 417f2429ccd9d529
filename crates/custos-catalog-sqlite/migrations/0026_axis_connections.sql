-- Issue 23 (ADR 0017): an Axis system controller's connection and the
-- short-lived tokens `GET /auth/v1.0` hands out, both kept as SHA-256 only.
CREATE TABLE axis_connections (
    name        TEXT PRIMARY KEY,
    key_sha256  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    rotated_at  INTEGER,
    revoked_at  INTEGER
);

CREATE TABLE axis_tokens (
    token_sha256 TEXT PRIMARY KEY,
    connection   TEXT NOT NULL REFERENCES axis_connections(name),
    expires_at   INTEGER NOT NULL
);
CREATE INDEX axis_tokens_connection ON axis_tokens (connection);
CREATE INDEX axis_tokens_expiry ON axis_tokens (expires_at);
