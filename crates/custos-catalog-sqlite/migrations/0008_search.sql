-- The web UI's recordings list filters by time, officer and camera, newest
-- first; a recording's page shows its audit trail. Entries are stored as
-- canonical JSON text in a BLOB column: the index reads it as text (SQLite
-- 3.45+ would take a BLOB for JSONB).
CREATE INDEX recordings_started_at ON recordings (started_at);
CREATE INDEX recordings_officer ON recordings (officer_id, started_at);
CREATE INDEX recordings_device_started ON recordings (device_id, started_at);
CREATE INDEX audit_log_object ON audit_log (json_extract(CAST(entry AS TEXT), '$.object'));
