-- Exports asked for where a second person must approve each one (issue 7).
-- What may leave (case, purpose, recipient, recordings as a JSON array of
-- UUIDs) is fixed when asked; an approval is spent by one export.
CREATE TABLE export_requests (
    request_id   TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(case_id),
    purpose      TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    recordings   TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    approved_by  TEXT,
    approved_at  BIGINT,
    used_at      BIGINT
);
CREATE INDEX export_requests_by_case ON export_requests (case_id, requested_at);
