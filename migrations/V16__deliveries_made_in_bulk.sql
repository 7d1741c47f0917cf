-- A change's transaction writes its webhook event only; the deliveries are made from the
-- events afterwards, many at a time (`store::fanout`).
--
-- A delivery row, its three indexes and the WAL frames they fill cost a create about 10 us of
-- the server's core, most of it in the pages each commit wrote again for a few rows
-- (BENCHMARKS.md, "What a delivery row costs a create"). Made in bulk, those pages go to the
-- WAL once for hundreds of deliveries.
--
-- * `endpoint_ids`: the endpoints subscribed when the event was queued, as a JSON array of
--   ids. Kept after its deliveries are made (it is a few bytes); NULL for the events before
--   this migration, whose deliveries were made with them.
-- * `webhook_fanout.upto`: the last event whose deliveries are made. The event after it is
--   the first still to do. A new event's id is always above it (`store::webhooks`), even
--   when a prune emptied the table, and the prune never takes an event above it.

ALTER TABLE webhook_events ADD COLUMN endpoint_ids TEXT;

CREATE TABLE webhook_fanout (
    id   INTEGER PRIMARY KEY CHECK (id = 1),          -- one row
    upto INTEGER NOT NULL                             -- events up to this id are fanned out
);

INSERT INTO webhook_fanout (id, upto) SELECT 1, COALESCE(MAX(id), 0) FROM webhook_events;
