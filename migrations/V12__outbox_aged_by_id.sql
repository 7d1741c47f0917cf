-- The outbox's two age indexes go: `webhook_events_created` and `webhook_deliveries_updated`.
--
-- Only the prune read them. Every create paid an entry in each, and every delivery's outcome
-- moved its entry in the second: two of the eight b-tree inserts a create makes in the
-- outbox. Without them (the same binary on a copy of the benchmark's database, 3 pairs of
-- 8 s create runs): 19.0-19.4k -> 19.6-20.2k creates/s, 47.1-47.3 -> 45.2-45.8 us of CPU
-- a create.
--
-- Rows are inserted in id order, stamped with the time of their insert, so the rows created
-- before a cutoff are a run of the smallest ids: the prune now walks that run by id, stopping
-- at the first row created after the cutoff (`store::deliveries::prune`).
DROP INDEX webhook_events_created;
DROP INDEX webhook_deliveries_updated;
