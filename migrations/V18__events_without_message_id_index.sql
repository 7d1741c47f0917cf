-- webhook_events again, with the same columns and rows, without the UNIQUE on msg_id.
--
-- The constraint kept an index of message ids that nothing reads: events are found by id,
-- and a message id is made unique by how it is made (the time, then 19 random base-62
-- characters: 113 random bits, `webhooks::events::new_message_id`). Every event insert paid
-- for it: 3.7 of a create burst's 27 WAL frames a commit, and 6% more creates a second
-- without it (4 pairs of 10 s runs on copies of the benchmark's database, one binary).
-- A UNIQUE cannot be dropped in place, hence the copy.
--
-- store::migrate runs migrations with foreign keys off: dropping the old table would
-- otherwise delete every delivery through their ON DELETE CASCADE. Their REFERENCES
-- webhook_events names the new table once it is renamed.

CREATE TABLE webhook_events_v18 (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    msg_id       TEXT    NOT NULL,                    -- the webhook-id header, stable across retries
    type         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,                    -- the exact body sent
    created_at   INTEGER NOT NULL,
    endpoint_ids TEXT                                 -- see V16
);

INSERT INTO webhook_events_v18 (id, account_id, msg_id, type, payload, created_at, endpoint_ids)
SELECT id, account_id, msg_id, type, payload, created_at, endpoint_ids
FROM webhook_events;

DROP TABLE webhook_events;
ALTER TABLE webhook_events_v18 RENAME TO webhook_events;
