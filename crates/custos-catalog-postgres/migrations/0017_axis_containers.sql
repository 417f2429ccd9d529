-- Issue 23 (ADR 0017): what an Axis system controller put on its
-- connection. An object's bytes are in the blob store, encrypted to the
-- evidence key; its age header is only here, so deleting the row shreds it.
CREATE TABLE axis_containers (
    connection   TEXT NOT NULL REFERENCES axis_connections(name),
    name         TEXT NOT NULL,
    recording_id TEXT UNIQUE,
    metadata     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    completed_at BIGINT,
    PRIMARY KEY (connection, name)
);
CREATE INDEX axis_containers_open ON axis_containers (connection) WHERE completed_at IS NULL;

CREATE TABLE axis_objects (
    connection TEXT NOT NULL,
    container  TEXT NOT NULL,
    name       TEXT NOT NULL,
    metadata   TEXT NOT NULL,
    length     BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    md5        TEXT NOT NULL,
    blob_key   TEXT NOT NULL UNIQUE,
    age_header BYTEA NOT NULL,
    stored_at  BIGINT NOT NULL,
    PRIMARY KEY (connection, container, name),
    FOREIGN KEY (connection, container) REFERENCES axis_containers(connection, name)
);

-- A blob written for an object before its row is committed: named here
-- first, so a crash in between leaves a blob the next start removes
-- instead of one nothing names.
CREATE TABLE axis_pending_blobs (
    blob_key   TEXT PRIMARY KEY,
    connection TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
