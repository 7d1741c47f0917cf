-- The admin page: sessions kept server-side, and the one-time codes of the first-run setup.
-- Only SHA-256 digests of session ids and setup codes are stored: a copy of the file opens nothing.

CREATE TABLE admin_sessions (
    id_hash      BLOB    PRIMARY KEY,                 -- SHA-256 of the cookie value
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,                    -- echoed in X-CSRF-Token by the page
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,                    -- idle expiry counts from here
    expires_at   INTEGER NOT NULL,                    -- absolute expiry
    ip           TEXT    NOT NULL,
    user_agent   TEXT
) WITHOUT ROWID;
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

CREATE TABLE admin_setup_codes (
    code_hash  BLOB    PRIMARY KEY,                   -- SHA-256 of the code
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
