-- Issue 23 point 4: the RSA keys a connection's cameras wrap each clip's
-- AES key to (Axis' `WantEncryption`). The private half is age-encrypted
-- to the evidence key; the newest key is the one the connection file names.
CREATE TABLE axis_content_keys (
    connection  TEXT NOT NULL REFERENCES axis_connections(name),
    key_id      TEXT NOT NULL,
    public_pem  TEXT NOT NULL,
    sealed      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (connection, key_id)
);
