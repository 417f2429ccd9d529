-- Issue 19: refused dock credentials grouped per source and hour (one row
-- with a count, not a row per refusal), incidents read by recording without
-- reading the table, and the sign-in back-off kept in `locked_until`.
ALTER TABLE incidents ADD COLUMN source TEXT;
ALTER TABLE incidents ADD COLUMN window_start INTEGER;
ALTER TABLE incidents ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE incidents ADD COLUMN last_at INTEGER;
CREATE UNIQUE INDEX incidents_by_source_window
    ON incidents (kind, source, window_start, detail) WHERE window_start IS NOT NULL;
CREATE INDEX incidents_by_recording ON incidents (recording_id) WHERE recording_id IS NOT NULL;
CREATE INDEX incidents_by_sequence ON incidents (device_id, sequence) WHERE device_id IS NOT NULL;
