-- Where each token's calls are in the audit log, an hour at a time, in place of the
-- (token_id, id) index.
--
-- Every call writes an audit row. Each write of a batch of rows added one entry per row to
-- the token index, on the leaf of each busy token: a write of 1,024 rows from 100 tokens
-- changed ~100 of its pages, and every commit writes each changed page to the WAL whole.
-- Under point reads, with that index the writer was busy 2.1-2.3 s of every 6 against
-- 1.3-1.5 s with this table, and the server spent 28.2 us of CPU per read against 22.8 us
-- (bench/ab.sh, means of 6 pairs in both orders; creates: 80.7 against 76.5 us, less in 5
-- pairs of 6).
--
-- A row here says: that hour, the token's calls have ids from first_id to last_id (other
-- tokens' calls come in between). A write of rows extends the rows of the hours it wrote to
-- in the same transaction; the rows of one hour sit together (the key begins with the
-- hour), so a write changes a page or two here. A token's calls are read by walking these
-- id ranges newest first (store::audit::list).

CREATE TABLE audit_token_hours (
    hour     INTEGER NOT NULL,                        -- at / 3,600,000
    token_id INTEGER NOT NULL,
    first_id INTEGER NOT NULL,                        -- audit_log ids
    last_id  INTEGER NOT NULL,
    PRIMARY KEY (hour, token_id)
) WITHOUT ROWID;

-- The hour of an existing row never changes, so this index moves only when a token's first
-- call of an hour adds a row.
CREATE INDEX audit_token_hours_token ON audit_token_hours (token_id, hour);

INSERT INTO audit_token_hours (hour, token_id, first_id, last_id)
SELECT at / 3600000, token_id, min(id), max(id)
FROM audit_log
WHERE token_id IS NOT NULL
GROUP BY at / 3600000, token_id;

DROP INDEX audit_log_token;
