-- Data subjects' access requests (issue 8): the intake of a case of kind
-- subject-access-request. The requester's name, contact and identity check
-- are personal data: only the privacy officer sees them, and they never go
-- into the audit log. The deadline is the case's due_at.
CREATE TABLE subject_requests (
    case_id          TEXT PRIMARY KEY REFERENCES cases(case_id),
    requester        TEXT NOT NULL,
    contact          TEXT,
    identity_check   TEXT NOT NULL,
    description      TEXT NOT NULL,
    window_from      BIGINT NOT NULL,
    window_to        BIGINT NOT NULL,
    place_lat_e7     BIGINT,
    place_lon_e7     BIGINT,
    place_radius_m   BIGINT,
    received_at      BIGINT NOT NULL,
    extension_reason TEXT,
    extended_by      TEXT,
    extended_at      BIGINT
);
