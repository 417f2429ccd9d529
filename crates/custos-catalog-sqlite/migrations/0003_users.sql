CREATE TABLE users (
    name               TEXT PRIMARY KEY,
    role               TEXT NOT NULL,
    officer_id         TEXT,
    password_hash      TEXT NOT NULL,
    totp_secret_sealed BLOB NOT NULL,
    failed_attempts    INTEGER NOT NULL DEFAULT 0,
    locked_until       INTEGER,
    totp_last_step     INTEGER,
    created_at         INTEGER NOT NULL,
    disabled_at        INTEGER
);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users(name),
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    ended_at     INTEGER
);
