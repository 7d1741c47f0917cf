-- Audit log of every /api/v1 call, and per-token daily usage counters.

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,                    -- ms
    account_id   INTEGER,                             -- NULL when no token was identified
    token_id     INTEGER,
    token_prefix TEXT,
    user_id      INTEGER,
    method       TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    code         TEXT,                                -- the problem code of a refused call
    ip           TEXT    NOT NULL,
    latency_us   INTEGER NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_account ON audit_log (account_id, id);
CREATE INDEX audit_log_token ON audit_log (token_id, id);

CREATE TABLE token_usage_daily (
    token_id     INTEGER NOT NULL,
    day          TEXT    NOT NULL,                    -- YYYY-MM-DD (UTC)
    requests     INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,          -- 4xx/5xx other than 429
    rate_limited INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, day)
) WITHOUT ROWID;

-- Addresses each token was seen from, for the token.new_ip event.
CREATE TABLE token_seen_ips (
    token_id  INTEGER NOT NULL,
    ip        TEXT    NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (token_id, ip)
) WITHOUT ROWID;

-- When the token.expiring_soon event went out, so it goes out once.
ALTER TABLE api_tokens ADD COLUMN expiry_warned_at INTEGER;
