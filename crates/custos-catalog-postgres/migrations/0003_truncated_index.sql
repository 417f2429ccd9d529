-- "Cut short" is a rare filter (power loss mid-recording): an index of just
-- those recordings, newest first, answers it without reading the rest.
CREATE INDEX recordings_truncated ON recordings (started_at) WHERE truncated = 1;
