-- The audit log (docs/FORMAT.md §11) replaces issue 3's unsigned
-- audit_events table. No deployment ran that schema, so nothing is carried over.
DROP TABLE audit_events;

-- One row per entry: its canonical bytes and RFC 6962 leaf hash (kept so
-- proofs need not re-read every entry). Never updated, never deleted.
CREATE TABLE audit_log (
    idx       INTEGER PRIMARY KEY,
    entry     BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);

-- One signed checkpoint per committed batch; the newest also carries the
-- tree's frontier, from which the next batch continues.
CREATE TABLE audit_checkpoints (
    size     INTEGER PRIMARY KEY,
    note     TEXT NOT NULL,
    frontier BLOB NOT NULL
);
