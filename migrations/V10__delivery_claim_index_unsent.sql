-- The claim index (V6) held every delivery ever made, and each delivery's outcome moved its
-- entry from the `pending` range to the `delivered` one: one more b-tree write per delivery,
-- and an index as long as the table. Delivered rows are never claimed; the index now holds
-- only the rest. Queries that use it repeat its condition word for word
-- (`status <> 'delivered'`, `deliveries::UNSENT`), which is how SQLite knows that a partial
-- index serves them.
DROP INDEX webhook_deliveries_endpoint_due;
CREATE INDEX webhook_deliveries_unsent
    ON webhook_deliveries (endpoint_id, status, next_attempt_at, id)
    WHERE status <> 'delivered';
