-- Webhooks: endpoints, the transactional outbox (events) and one delivery per endpoint and event.

CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    url             TEXT    NOT NULL,
    description     TEXT,
    events          TEXT    NOT NULL,                 -- JSON array of event types, or ["*"]
    secret          TEXT    NOT NULL,                 -- whsec_...
    previous_secret TEXT,                             -- still signed with until previous_until
    previous_until  INTEGER,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);

CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    msg_id     TEXT    NOT NULL UNIQUE,               -- the webhook-id header, stable across retries
    type       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,                      -- the exact body sent
    created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id             INTEGER PRIMARY KEY,
    event_id       INTEGER NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id    INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dead', 'paused')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until    INTEGER,                           -- claimed by a sender until then
    last_status    INTEGER,
    last_error     TEXT,
    last_response  TEXT,                              -- first 1 KiB of the last answer
    last_latency_ms INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Idempotency keys: the first 2xx answer to a POST, stored with the change it made.
CREATE TABLE idempotency_keys (
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    headers      TEXT    NOT NULL,                    -- JSON object of headers to replay
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
