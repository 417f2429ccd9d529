-- Crypto-shredding: a recording's age header (which holds its wrapped file
-- key) lives here, not in the blob; deleting the row destroys the key.
ALTER TABLE recordings ADD COLUMN age_header BLOB;
ALTER TABLE uploads ADD COLUMN age_header BLOB;
CREATE INDEX recordings_delete_after ON recordings (delete_after);

-- What is left of a deleted recording: no content, no personal data.
CREATE TABLE tombstones (
    recording_id      TEXT PRIMARY KEY,
    device_id         TEXT NOT NULL,
    sequence          INTEGER NOT NULL,
    started_at        INTEGER NOT NULL,
    ended_at          INTEGER NOT NULL,
    ciphertext_sha256 TEXT NOT NULL,
    manifest_sha256   TEXT NOT NULL,
    deleted_at        INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    blob_key          TEXT NOT NULL,
    -- 0 until the blob is gone: a crash between the two is finished later.
    blob_deleted      INTEGER NOT NULL,
    UNIQUE (device_id, sequence)
);
CREATE INDEX tombstones_blob_pending ON tombstones (blob_deleted) WHERE blob_deleted = 0;

CREATE TABLE cases (
    case_id    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    reference  TEXT,
    label      TEXT NOT NULL,
    opened_by  TEXT NOT NULL,
    opened_at  INTEGER NOT NULL,
    due_at     INTEGER,
    closed_by  TEXT,
    closed_at  INTEGER
);

CREATE TABLE holds (
    hold_id      TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(case_id),
    recording_id TEXT NOT NULL,
    reason       TEXT NOT NULL,
    placed_by    TEXT NOT NULL,
    placed_at    INTEGER NOT NULL,
    approved_by  TEXT,
    approved_at  INTEGER,
    released_by  TEXT,
    released_at  INTEGER
);
CREATE INDEX holds_recording ON holds (recording_id) WHERE released_at IS NULL;
CREATE INDEX holds_case ON holds (case_id);
