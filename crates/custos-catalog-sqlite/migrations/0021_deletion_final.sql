-- Issue 20: a deletion is final. Before this, a copy of a deleted recording
-- offered again was written to blob storage a second time and its age header
-- (the wrapped file key) kept in an `uploads` row. Such a tombstone's blob is
-- marked not yet deleted, so the next sweep deletes it again (deleting a
-- missing blob is a no-op), and the upload rows with their headers go now.
UPDATE tombstones SET blob_deleted = 0
 WHERE recording_id IN (SELECT recording_id FROM uploads);
DELETE FROM uploads
 WHERE recording_id IN (SELECT recording_id FROM tombstones);
