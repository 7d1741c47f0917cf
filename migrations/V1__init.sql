-- Switchboard schema, version 1: accounts, users, API tokens and the four resources.
-- Times are integer milliseconds since the Unix epoch (UTC). Never edit this file once released.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    plan        TEXT    NOT NULL CHECK (plan IN ('free', 'starter', 'pro')),
    status      TEXT    NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
    allow_ips   TEXT    NOT NULL DEFAULT '[]',          -- JSON array of CIDR strings
    revoke_unused_after_s INTEGER,                      -- inactivity policy; NULL = off
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

INSERT INTO accounts (name, plan, status, created_at, updated_at)
VALUES ('default', 'pro', 'active',
        CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT,
    role          TEXT    NOT NULL CHECK (role IN ('agent', 'admin')),
    permissions   INTEGER NOT NULL,                     -- bitmask of the eight scopes
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,                                 -- Argon2id PHC string
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX users_account ON users (account_id);

CREATE TABLE api_tokens (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    user_id        INTEGER NOT NULL REFERENCES users (id),
    prefix         TEXT    NOT NULL UNIQUE,
    token_hash     BLOB    NOT NULL UNIQUE,             -- SHA-256 of the whole token
    name           TEXT    NOT NULL,
    scopes         INTEGER NOT NULL,                    -- bitmask of the eight scopes
    allow_ips      TEXT    NOT NULL DEFAULT '[]',       -- JSON array of CIDR strings
    limits         TEXT,                                -- JSON array like ["20/1s"]; NULL = server defaults
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER,
    revoked_reason TEXT,
    replaced_by    INTEGER REFERENCES api_tokens (id),
    grace_until    INTEGER,                             -- a rotated token works until then
    last_used_at   INTEGER,
    last_used_ip   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

-- Bumped by every management change; a running server polls it to drop cached auth state.
CREATE TABLE change_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO change_generation (id, value) VALUES (1, 0);

CREATE TABLE leads (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    owner_id   INTEGER NOT NULL REFERENCES users (id),
    name       TEXT    NOT NULL,
    email      TEXT,
    phone      TEXT,
    source     TEXT,
    status     TEXT    NOT NULL,
    notes      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX leads_owner ON leads (account_id, owner_id, id);
CREATE INDEX leads_updated ON leads (account_id, updated_at, id);

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    owner_id      INTEGER NOT NULL REFERENCES users (id),
    title         TEXT    NOT NULL,
    lead_id       INTEGER REFERENCES leads (id) ON DELETE SET NULL,
    status        TEXT    NOT NULL,
    scheduled_for INTEGER,
    address       TEXT,
    amount_cents  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX jobs_owner ON jobs (account_id, owner_id, id);
CREATE INDEX jobs_updated ON jobs (account_id, updated_at, id);
CREATE INDEX jobs_lead ON jobs (lead_id);

CREATE TABLE invoices (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    owner_id    INTEGER NOT NULL REFERENCES users (id),
    number      TEXT,
    job_id      INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    status      TEXT    NOT NULL,
    currency    TEXT,
    total_cents INTEGER NOT NULL,
    due_date    TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX invoices_owner ON invoices (account_id, owner_id, id);
CREATE INDEX invoices_updated ON invoices (account_id, updated_at, id);
CREATE INDEX invoices_job ON invoices (job_id);

CREATE TABLE appointments (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    owner_id   INTEGER NOT NULL REFERENCES users (id),
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER,
    lead_id    INTEGER REFERENCES leads (id) ON DELETE SET NULL,
    location   TEXT,
    status     TEXT    NOT NULL,
    notes      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX appointments_owner ON appointments (account_id, owner_id, id);
CREATE INDEX appointments_updated ON appointments (account_id, updated_at, id);
CREATE INDEX appointments_lead ON appointments (lead_id);
