-- A camera may be assigned to one officer (a personal camera); a dock
-- checking it out without being told an officer uses this one. Pooled
-- cameras have none and are checked out per shift.
ALTER TABLE devices ADD COLUMN assigned_officer TEXT;
