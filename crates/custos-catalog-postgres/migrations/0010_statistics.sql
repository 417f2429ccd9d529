-- Evaluation statistics (issue 9, ADR 0011): the SQLite catalog's migration
-- 0019. recording_facts is a projection of each signed manifest, written
-- with the recording and kept after it is deleted; the audit log's search
-- columns (filled from each entry) get an index for the statistics.

ALTER TABLE devices ADD COLUMN team TEXT;

CREATE TABLE recording_facts (
    recording_id        TEXT PRIMARY KEY,
    device_id           TEXT NOT NULL,
    team                TEXT,
    officer_id          TEXT,
    started_at          BIGINT NOT NULL,
    ended_at            BIGINT NOT NULL,
    stored_at           BIGINT,
    prerecord_ms        BIGINT,
    display_activations BIGINT,
    trigger             TEXT,
    stop_reason         TEXT,
    firmware            TEXT,
    truncated           BIGINT
);

INSERT INTO recording_facts
SELECT r.recording_id, r.device_id, d.team, r.officer_id, r.started_at, r.ended_at, r.stored_at,
       (r.m->>'prerecord_included_ms')::BIGINT,
       (SELECT COUNT(*) FROM jsonb_array_elements(r.m->'display_events') e WHERE (e->>'on')::BOOLEAN),
       r.m->>'trigger', r.m->>'stop_reason', r.m->>'firmware',
       r.truncated
FROM (SELECT *, convert_from(manifest, 'UTF8')::jsonb AS m FROM recordings) r
LEFT JOIN devices d ON d.device_id = r.device_id;

INSERT INTO recording_facts (recording_id, device_id, started_at, ended_at)
SELECT recording_id, device_id, started_at, ended_at FROM tombstones
WHERE recording_id NOT IN (SELECT recording_id FROM recording_facts);

CREATE INDEX recording_facts_started ON recording_facts (started_at);

CREATE INDEX audit_log_statistics ON audit_log (action, outcome, at) INCLUDE (purpose);

-- The same name and columns as the SQLite catalog's view, so both backends
-- run the statistics' SQL alike.
CREATE VIEW audit_facts AS
SELECT idx, at, action, outcome, purpose, actor, object, case_id FROM audit_log;

CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);

-- One row per person, recording, purpose and case a day (SQLite's 0019).
CREATE TABLE footage_accesses (
    day       TEXT NOT NULL,
    actor     TEXT NOT NULL,
    object    TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    case_id   TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    -- The recording's team, camera and officer (from its facts, which do
    -- not change), so that a team's or an officer's accesses need no join.
    team      TEXT,
    device_id TEXT,
    officer_id TEXT,
    first_idx BIGINT NOT NULL,
    PRIMARY KEY (day, actor, object, purpose, case_id, outcome)
);
INSERT INTO footage_accesses
SELECT substr(a.at, 1, 10), a.actor, COALESCE(a.object, ''), COALESCE(a.purpose, ''), COALESCE(a.case_id, ''), a.outcome,
       MIN(f.team), MIN(f.device_id), MIN(f.officer_id), MIN(a.idx)
FROM audit_log a LEFT JOIN recording_facts f ON f.recording_id = substr(a.object, 11)
WHERE a.action IN ('recording.player', 'recording.play', 'recording.download', 'recording.thumbnail',
                 'recording.faces', 'recording.redact', 'recording.export', 'derivative.play')
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE INDEX holds_recording_any ON holds (recording_id);

-- 4. The weekly cache (statistics::fill_week_sql): a week's recordings'
--    facts and tombstones counted once per team and kept; writers that
--    change a week drop its mark in statistics_weeks, and a page view counts
--    unmarked weeks live. Derived only from the tables above.
CREATE TABLE statistics_weeks (week BIGINT PRIMARY KEY);
CREATE TABLE week_recordings (
    week BIGINT NOT NULL, team TEXT NOT NULL,
    recordings BIGINT NOT NULL, recorded_ms BIGINT NOT NULL, known BIGINT NOT NULL,
    with_prerecord BIGINT NOT NULL, with_display BIGINT NOT NULL,
    display_activations BIGINT NOT NULL, within_24h BIGINT NOT NULL,
    PRIMARY KEY (week, team)
);
CREATE TABLE week_delays (
    week BIGINT NOT NULL, team TEXT NOT NULL, hours BIGINT NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (week, team, hours)
);
CREATE TABLE week_stops (
    week BIGINT NOT NULL, team TEXT NOT NULL, stop_reason TEXT NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (week, team, stop_reason)
);
CREATE TABLE week_firmware (
    week BIGINT NOT NULL, team TEXT NOT NULL, firmware TEXT NOT NULL, device_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (week, team, firmware, device_id)
);
CREATE TABLE week_deletions (
    week BIGINT NOT NULL, team TEXT NOT NULL, reason TEXT NOT NULL, after_hold BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (week, team, reason, after_hold)
);

-- A camera's and an officer's numbers are counted from these.
CREATE INDEX recording_facts_device ON recording_facts (device_id, started_at);
CREATE INDEX recording_facts_officer ON recording_facts (officer_id, started_at);
