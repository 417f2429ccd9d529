-- Retention categories: a camera belongs to one (a training camera, a team
-- with its own period); its recordings start in it, and the privacy officer
-- may move a recording to another. The period itself is the deployment's
-- setting, not stored here: each recording keeps the deadline it was given.
ALTER TABLE devices ADD COLUMN retention_category TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE recordings ADD COLUMN retention_category TEXT NOT NULL DEFAULT 'standard';
