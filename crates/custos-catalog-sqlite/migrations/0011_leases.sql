-- Periodic jobs (the retention sweep) run on one node at a time: the node
-- that holds a job's lease. A lease ends when its holder releases it or
-- when it expires (a node that died mid-job), then another node takes it.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
