-- Issue 23 point 5: what the check of an Axis recording's signed video
-- found (docs/SIGNED-VIDEO.md), once per recording; it goes with the
-- recording. And the key each Axis camera signs with, pinned as first seen:
-- another key later is a failure, an unsigned recording an incident.
CREATE TABLE signed_video_checks (
    recording_id TEXT PRIMARY KEY,
    outcome      TEXT NOT NULL,
    report       TEXT NOT NULL,
    key_sha256   TEXT,
    checked_at   BIGINT NOT NULL
);
CREATE TABLE axis_signing_keys (
    device_id  TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL,
    pinned_at  BIGINT NOT NULL
);
