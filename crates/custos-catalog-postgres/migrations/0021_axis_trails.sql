-- Issue 23 point 3: where an Axis camera was, read from its recording's
-- GNSS trail once the recording completed (docs/AXIS.md), for the subject
-- access search by place; once per recording, and it goes with the
-- recording. points: JSON [[at_ms, lat_e7, lon_e7], ...].
CREATE TABLE axis_trails (
    recording_id TEXT PRIMARY KEY,
    outcome      TEXT NOT NULL,
    points       TEXT NOT NULL,
    detail       TEXT,
    read_at      BIGINT NOT NULL
);
