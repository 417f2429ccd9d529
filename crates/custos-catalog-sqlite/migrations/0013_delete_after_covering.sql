-- "Deleted soon" counts recordings by deadline, minus the held ones: with
-- the id in the deadline's index the count reads the index alone.
CREATE INDEX recordings_delete_after_id ON recordings (delete_after, recording_id);
DROP INDEX recordings_delete_after;
