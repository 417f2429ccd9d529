-- The catalog on PostgreSQL: the same tables as the SQLite catalog's ten
-- migrations, folded into one (this backend starts here). Times are
-- milliseconds since the epoch (BIGINT), flags are 0/1 BIGINTs, hashes hex
-- TEXT, opaque bytes BYTEA: the same row shapes as SQLite's, so both
-- backends read rows alike.

CREATE TABLE devices (
    device_id          TEXT PRIMARY KEY,
    public_key         TEXT NOT NULL,
    enrolled_at        BIGINT NOT NULL,
    revoked_at         BIGINT,
    retention_category TEXT NOT NULL DEFAULT 'standard',
    assigned_officer   TEXT
);

CREATE TABLE docks (
    dock_id      TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL,
    enrolled_at  BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE chain_heads (
    device_id       TEXT PRIMARY KEY REFERENCES devices(device_id),
    sequence        BIGINT NOT NULL,
    manifest_sha256 TEXT NOT NULL
);

CREATE TABLE recordings (
    recording_id       TEXT PRIMARY KEY,
    device_id          TEXT NOT NULL REFERENCES devices(device_id),
    sequence           BIGINT NOT NULL,
    officer_id         TEXT,
    started_at         BIGINT NOT NULL,
    ended_at           BIGINT NOT NULL,
    truncated          BIGINT NOT NULL,
    ciphertext_sha256  TEXT NOT NULL,
    ciphertext_length  BIGINT NOT NULL,
    manifest           BYTEA NOT NULL,
    manifest_signature BYTEA NOT NULL,
    manifest_sha256    TEXT NOT NULL,
    blob_key           TEXT NOT NULL,
    stored_at          BIGINT NOT NULL,
    receipt            BYTEA NOT NULL,
    receipt_signature  BYTEA NOT NULL,
    delete_after       BIGINT NOT NULL,
    -- Crypto-shredding: the age header (the wrapped file key) lives here only.
    age_header         BYTEA,
    retention_category TEXT NOT NULL DEFAULT 'standard',
    UNIQUE (device_id, sequence)
);
CREATE INDEX recordings_delete_after ON recordings (delete_after);
CREATE INDEX recordings_started_at ON recordings (started_at);
CREATE INDEX recordings_officer ON recordings (officer_id, started_at);
CREATE INDEX recordings_device_started ON recordings (device_id, started_at);

CREATE TABLE uploads (
    upload_id          TEXT PRIMARY KEY,
    recording_id       TEXT NOT NULL UNIQUE,
    device_id          TEXT NOT NULL,
    sequence           BIGINT NOT NULL,
    manifest           BYTEA NOT NULL,
    manifest_signature BYTEA NOT NULL,
    dock_id            TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    age_header         BYTEA
);

CREATE TABLE incidents (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    device_id    TEXT,
    dock_id      TEXT,
    sequence     BIGINT,
    recording_id TEXT,
    detail       TEXT NOT NULL
);

-- One row per entry: its canonical bytes and RFC 6962 leaf hash; never
-- updated, never deleted. The other columns are copies of the entry's
-- fields, for search only: verification reads `entry` alone.
CREATE TABLE audit_log (
    idx       BIGINT PRIMARY KEY,
    entry     BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    object    TEXT,
    case_id   TEXT,
    purpose   TEXT
);
CREATE INDEX audit_log_object ON audit_log (object);
CREATE INDEX audit_log_actor ON audit_log (actor, idx);
CREATE INDEX audit_log_action ON audit_log (action text_pattern_ops);

CREATE TABLE audit_checkpoints (
    size     BIGINT PRIMARY KEY,
    note     TEXT NOT NULL,
    frontier BYTEA NOT NULL
);

CREATE TABLE users (
    name                 TEXT PRIMARY KEY,
    role                 TEXT NOT NULL,
    officer_id           TEXT,
    password_hash        TEXT NOT NULL,
    totp_secret_sealed   BYTEA NOT NULL,
    failed_attempts      BIGINT NOT NULL DEFAULT 0,
    locked_until         BIGINT,
    totp_last_step       BIGINT,
    created_at           BIGINT NOT NULL,
    disabled_at          BIGINT,
    password_must_change BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users(name),
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    ended_at     BIGINT
);

CREATE TABLE tombstones (
    recording_id      TEXT PRIMARY KEY,
    device_id         TEXT NOT NULL,
    sequence          BIGINT NOT NULL,
    started_at        BIGINT NOT NULL,
    ended_at          BIGINT NOT NULL,
    ciphertext_sha256 TEXT NOT NULL,
    manifest_sha256   TEXT NOT NULL,
    deleted_at        BIGINT NOT NULL,
    reason            TEXT NOT NULL,
    blob_key          TEXT NOT NULL,
    blob_deleted      BIGINT NOT NULL,
    UNIQUE (device_id, sequence)
);
CREATE INDEX tombstones_blob_pending ON tombstones (blob_deleted) WHERE blob_deleted = 0;

CREATE TABLE cases (
    case_id    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    reference  TEXT,
    label      TEXT NOT NULL,
    opened_by  TEXT NOT NULL,
    opened_at  BIGINT NOT NULL,
    due_at     BIGINT,
    closed_by  TEXT,
    closed_at  BIGINT
);

CREATE TABLE holds (
    hold_id      TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(case_id),
    recording_id TEXT NOT NULL,
    reason       TEXT NOT NULL,
    placed_by    TEXT NOT NULL,
    placed_at    BIGINT NOT NULL,
    approved_by  TEXT,
    approved_at  BIGINT,
    released_by  TEXT,
    released_at  BIGINT
);
CREATE INDEX holds_recording ON holds (recording_id) WHERE released_at IS NULL;
CREATE INDEX holds_case ON holds (case_id);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
