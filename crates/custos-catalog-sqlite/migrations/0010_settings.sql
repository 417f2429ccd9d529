-- Settings an administrator changed while the server ran (retention periods,
-- purposes): they win over `serve`'s flags at every later start. One row per
-- key, its value as JSON; the history is in the audit log.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
