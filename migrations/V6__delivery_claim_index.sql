-- The worker claims each endpoint's oldest due deliveries with an index range scan, so a
-- claim costs the same with ten pending deliveries or a hundred thousand.
CREATE INDEX webhook_deliveries_endpoint_due
    ON webhook_deliveries (endpoint_id, status, next_attempt_at, id);
