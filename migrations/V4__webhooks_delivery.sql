-- Webhook delivery: what the worker needs beyond V2 (which stays as applied).

-- Since when every attempt at this endpoint has failed (NULL after any success): an endpoint
-- failing for days on end is disabled with a reason the admin page shows.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since INTEGER;

-- The attempt count when the delivery was last (re)queued by hand or by re-enabling its
-- endpoint: the retry schedule restarts from there, while `attempts` keeps counting them all.
ALTER TABLE webhook_deliveries ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;

-- Every attempt, so an operator can see each one, not just the last.
CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    status       INTEGER,                              -- HTTP status, NULL when none came back
    error        TEXT,
    latency_ms   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- Retention pruning looks finished rows up by age.
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);
CREATE INDEX webhook_events_created ON webhook_events (created_at);
