-- Download links for export packages (issue 7): the package, encrypted to
-- its recipient, waits in the blob store until the link expires or is
-- revoked. Only the SHA-256 of the link's token is kept.
CREATE TABLE export_links (
    link_id        TEXT PRIMARY KEY,
    export_id      TEXT NOT NULL,
    case_id        TEXT NOT NULL REFERENCES cases(case_id),
    purpose        TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    token_sha256   TEXT NOT NULL UNIQUE,
    blob_key       TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    size           INTEGER NOT NULL,
    package_sha256 TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    max_downloads  INTEGER NOT NULL,
    downloads      INTEGER NOT NULL DEFAULT 0,
    revoked_by     TEXT,
    revoked_at     INTEGER,
    removed_at     INTEGER
);
CREATE INDEX export_links_by_case ON export_links (case_id, created_at);
-- The sweeper's question: stored packages, by when they stop serving.
CREATE INDEX export_links_stored ON export_links (expires_at) WHERE removed_at IS NULL;
