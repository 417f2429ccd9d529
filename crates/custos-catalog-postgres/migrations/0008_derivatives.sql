-- Redacted copies made for subject access requests (issue 8, FORMAT.md §13).
-- Stored as recordings are: the age header (the only copy of the wrapped
-- file key) here, zeros in its place in the blob. A derivative lives only as
-- long as its source: the sweeper deletes it once the source is gone.
CREATE TABLE derivatives (
    derivative_id     TEXT PRIMARY KEY,
    recording_id      TEXT NOT NULL,
    case_id           TEXT NOT NULL REFERENCES cases(case_id),
    plan              TEXT NOT NULL,
    sha256            TEXT NOT NULL,
    plaintext_length  BIGINT NOT NULL,
    age_header        BYTEA,
    blob_key          TEXT NOT NULL,
    ciphertext_length BIGINT NOT NULL,
    frames            BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    deleted_at        BIGINT
);
CREATE INDEX derivatives_by_case ON derivatives (case_id, created_at);
CREATE INDEX derivatives_by_recording ON derivatives (recording_id) WHERE deleted_at IS NULL;
