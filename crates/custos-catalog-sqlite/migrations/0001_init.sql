CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE docks (
    dock_id      TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL,
    enrolled_at  INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE TABLE chain_heads (
    device_id       TEXT PRIMARY KEY REFERENCES devices(device_id),
    sequence        INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL
);

CREATE TABLE recordings (
    recording_id       TEXT PRIMARY KEY,
    device_id          TEXT NOT NULL REFERENCES devices(device_id),
    sequence           INTEGER NOT NULL,
    officer_id         TEXT,
    started_at         INTEGER NOT NULL,
    ended_at           INTEGER NOT NULL,
    truncated          INTEGER NOT NULL,
    ciphertext_sha256  TEXT NOT NULL,
    ciphertext_length  INTEGER NOT NULL,
    manifest           BLOB NOT NULL,
    manifest_signature BLOB NOT NULL,
    manifest_sha256    TEXT NOT NULL,
    blob_key           TEXT NOT NULL,
    stored_at          INTEGER NOT NULL,
    receipt            BLOB NOT NULL,
    receipt_signature  BLOB NOT NULL,
    delete_after       INTEGER NOT NULL,
    UNIQUE (device_id, sequence)
);

CREATE TABLE uploads (
    upload_id          TEXT PRIMARY KEY,
    recording_id       TEXT NOT NULL UNIQUE,
    device_id          TEXT NOT NULL,
    sequence           INTEGER NOT NULL,
    manifest           BLOB NOT NULL,
    manifest_signature BLOB NOT NULL,
    dock_id            TEXT NOT NULL,
    created_at         INTEGER NOT NULL
);

CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    device_id    TEXT,
    dock_id      TEXT,
    sequence     INTEGER,
    recording_id TEXT,
    detail       TEXT NOT NULL
);

CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);
