-- Evaluation statistics (issue 9, ADR 0011). Two projections, no counters:
--
-- 1. recording_facts: the content-free facts of each recording that a pilot
--    evaluation counts, copied from its signed manifest when the recording
--    is committed (the same SELECT as below) and kept after the recording
--    is deleted, so a year's statistics survive a 28-day retention. Nothing
--    in it shows what was filmed: times, the camera, its team, the officer
--    (for their own numbers), pre-record and display use, how it stopped,
--    the firmware.
-- 2. audit_facts: the audit entries' fields, read from the canonical entry
--    itself, with an index over the columns the statistics read. A view of
--    the log, so it cannot disagree with it.

-- The team or district a camera serves (set by an administrator, audited).
ALTER TABLE devices ADD COLUMN team TEXT;

CREATE TABLE recording_facts (
    recording_id        TEXT PRIMARY KEY,
    device_id           TEXT NOT NULL,
    team                TEXT,
    officer_id          TEXT,
    started_at          INTEGER NOT NULL,
    ended_at            INTEGER NOT NULL,
    -- NULL below: a recording deleted before these facts were kept.
    stored_at           INTEGER,
    prerecord_ms        INTEGER,
    display_activations INTEGER,
    trigger             TEXT,
    stop_reason         TEXT,
    firmware            TEXT,
    truncated           INTEGER
);

INSERT INTO recording_facts
SELECT r.recording_id, r.device_id, d.team, r.officer_id, r.started_at, r.ended_at, r.stored_at,
       json_extract(r.m, '$.prerecord_included_ms'),
       (SELECT COUNT(*) FROM json_each(r.m, '$.display_events') WHERE json_extract(value, '$.on') = 1),
       json_extract(r.m, '$.trigger'), json_extract(r.m, '$.stop_reason'), json_extract(r.m, '$.firmware'),
       r.truncated
FROM (SELECT *, CAST(manifest AS TEXT) AS m FROM recordings) r
LEFT JOIN devices d ON d.device_id = r.device_id;

INSERT INTO recording_facts (recording_id, device_id, started_at, ended_at)
SELECT recording_id, device_id, started_at, ended_at FROM tombstones
WHERE recording_id NOT IN (SELECT recording_id FROM recording_facts);

CREATE INDEX recording_facts_started ON recording_facts (started_at);

CREATE VIEW audit_facts AS
SELECT idx,
       json_extract(CAST(entry AS TEXT), '$.at') AS at,
       json_extract(CAST(entry AS TEXT), '$.action') AS action,
       json_extract(CAST(entry AS TEXT), '$.outcome') AS outcome,
       json_extract(CAST(entry AS TEXT), '$.purpose') AS purpose,
       json_extract(CAST(entry AS TEXT), '$.actor') AS actor,
       json_extract(CAST(entry AS TEXT), '$.object') AS object,
       json_extract(CAST(entry AS TEXT), '$.case') AS case_id
FROM audit_log;

-- The statistics read entries by action, outcome and time: this index
-- answers them without touching the entries (SQLite uses indexed
-- expressions as columns).
CREATE INDEX audit_log_statistics ON audit_log (
    json_extract(CAST(entry AS TEXT), '$.action'),
    json_extract(CAST(entry AS TEXT), '$.outcome'),
    json_extract(CAST(entry AS TEXT), '$.at'),
    json_extract(CAST(entry AS TEXT), '$.purpose')
);

-- 3. footage_accesses: one row per person, recording, purpose and case a
--    day (the first entry that made it), written in the same transaction as
--    the entries (append_audit) and filled here from the log so far. A
--    viewing is dozens of range requests; counting them from the log at
--    each page view would read every one of them.
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
    first_idx INTEGER NOT NULL,
    PRIMARY KEY (day, actor, object, purpose, case_id, outcome)
);
INSERT OR IGNORE INTO footage_accesses
SELECT substr(a.at, 1, 10), a.actor, COALESCE(a.object, ''), COALESCE(a.purpose, ''), COALESCE(a.case_id, ''), a.outcome,
       f.team, f.device_id, f.officer_id, a.idx
FROM audit_facts a LEFT JOIN recording_facts f ON f.recording_id = substr(a.object, 11)
WHERE a.action IN ('recording.player', 'recording.play', 'recording.download', 'recording.thumbnail',
                 'recording.faces', 'recording.redact', 'recording.export', 'derivative.play')
ORDER BY a.idx;

-- Deletions ask whether a recording was ever held, released or not.
CREATE INDEX holds_recording_any ON holds (recording_id);

CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);

-- 4. The weekly cache (statistics::fill_week_sql): a week's recordings'
--    facts and tombstones counted once per team and kept; writers that
--    change a week drop its mark in statistics_weeks, and a page view counts
--    unmarked weeks live. Derived only from the tables above.
CREATE TABLE statistics_weeks (week INTEGER PRIMARY KEY);
CREATE TABLE week_recordings (
    week INTEGER NOT NULL, team TEXT NOT NULL,
    recordings INTEGER NOT NULL, recorded_ms INTEGER NOT NULL, known INTEGER NOT NULL,
    with_prerecord INTEGER NOT NULL, with_display INTEGER NOT NULL,
    display_activations INTEGER NOT NULL, within_24h INTEGER NOT NULL,
    PRIMARY KEY (week, team)
);
CREATE TABLE week_delays (
    week INTEGER NOT NULL, team TEXT NOT NULL, hours INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (week, team, hours)
);
CREATE TABLE week_stops (
    week INTEGER NOT NULL, team TEXT NOT NULL, stop_reason TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (week, team, stop_reason)
);
CREATE TABLE week_firmware (
    week INTEGER NOT NULL, team TEXT NOT NULL, firmware TEXT NOT NULL, device_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (week, team, firmware, device_id)
);
CREATE TABLE week_deletions (
    week INTEGER NOT NULL, team TEXT NOT NULL, reason TEXT NOT NULL, after_hold INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (week, team, reason, after_hold)
);

-- A camera's and an officer's numbers are counted from these.
CREATE INDEX recording_facts_device ON recording_facts (device_id, started_at);
CREATE INDEX recording_facts_officer ON recording_facts (officer_id, started_at);
