-- A stored answer is replayed only to the user whose request made it. Keys are scoped to the
-- account (CONTRACT.md), so two users of one account sending the same key and body got the
-- same answer, and an agent could be sent a record owned by someone else, one its own token
-- cannot read, while its own record was never created. The same key from another user is now
-- a different request (422 `idempotency_key_reused`).
--
-- Answers stored before this migration have no user; they are replayed as before until they
-- expire (24 h), so that a retry made across the upgrade still gets its first answer.
ALTER TABLE idempotency_keys ADD COLUMN user_id INTEGER;
