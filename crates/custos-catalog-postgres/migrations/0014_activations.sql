-- Issue 20: separation of duties. An account that can see footage is
-- created, or has its credentials reset, only when the privacy officer
-- approves an administrator's request; the person then sets their own
-- password and gets their own TOTP secret through a one-time link, whose
-- token is kept only as its SHA-256 and forgotten once used.
CREATE TABLE account_activations (
    activation_id TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    role          TEXT NOT NULL,
    officer_id    TEXT,
    requested_by  TEXT NOT NULL,
    requested_at  BIGINT NOT NULL,
    approved_by   TEXT,
    approved_at   BIGINT,
    rejected_by   TEXT,
    rejected_at   BIGINT,
    token_sha256  TEXT UNIQUE,
    expires_at    BIGINT,
    activated_at  BIGINT
);
CREATE INDEX account_activations_by_name ON account_activations (user_name);
