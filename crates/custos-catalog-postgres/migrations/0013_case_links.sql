-- Issue 20: a purpose is bound to its case. Footage is seen for a case only
-- when the recording is attached to it: by a hold, or by a link made before
-- viewing, with its reason (a link does not keep the recording longer).
CREATE TABLE case_links (
    case_id      TEXT NOT NULL,
    recording_id TEXT NOT NULL,
    reason       TEXT NOT NULL,
    linked_by    TEXT NOT NULL,
    linked_at    BIGINT NOT NULL,
    PRIMARY KEY (case_id, recording_id)
);
