-- A customer-to-be: someone who logged in through an invitation link and has no account yet.
-- Their identity (the keyed hash) waits here until they accept an invitation meant for them,
-- which makes the account; such a session is deleted, not kept as ended, when it ends.
ALTER TABLE sessions ADD COLUMN pending_identity_hash TEXT;
