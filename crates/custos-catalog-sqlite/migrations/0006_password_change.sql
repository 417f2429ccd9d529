-- An initial password was seen by whoever created the account: it must be
-- replaced at the first sign-in. Accounts made before this existed must
-- change theirs too.
ALTER TABLE users ADD COLUMN password_must_change INTEGER NOT NULL DEFAULT 1;
