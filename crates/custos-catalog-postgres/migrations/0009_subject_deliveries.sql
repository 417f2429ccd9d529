-- What was delivered for a subject access request: the latest answer's
-- export id and when it was made (every delivery is also in the audit log).
ALTER TABLE subject_requests ADD COLUMN delivered_export TEXT;
ALTER TABLE subject_requests ADD COLUMN delivered_at BIGINT;
