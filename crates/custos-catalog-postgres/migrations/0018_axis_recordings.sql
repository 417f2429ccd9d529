-- Issue 23 point 3 (ADR 0017): an Axis recording is a recording. A camera
-- is a Custos camera or an Axis one; a recording's origin says which of
-- its columns hold its proof. An Axis recording's row keeps no manifest,
-- receipt, blob or age header (those columns stay empty): its bytes are its
-- container's objects, each with its own age header in axis_objects, and
-- ciphertext_sha256 / manifest_sha256 hold the digests its tombstone keeps
-- (docs/AXIS.md).
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'custos';
ALTER TABLE recordings ADD COLUMN origin TEXT NOT NULL DEFAULT 'camera';
ALTER TABLE recordings ADD COLUMN axis_connection TEXT;
ALTER TABLE recordings ADD COLUMN axis_container TEXT;
CREATE UNIQUE INDEX recordings_axis_container ON recordings (axis_connection, axis_container)
    WHERE axis_container IS NOT NULL;

-- The blobs a deleted Axis recording left to delete (a camera's one blob
-- is the tombstone's blob_key).
CREATE TABLE tombstone_blobs (
    recording_id TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    PRIMARY KEY (recording_id, blob_key)
);
