-- Where each token's calls are in the audit log, in place of the (token_id, id) index.
--
-- Every call writes an audit row. Each write of a batch of rows added one entry per row to
-- the token index, on the leaf of each busy token: a write of 1,024 rows from 100 tokens
-- changed ~100 of its pages, and every commit writes each changed page to the WAL whole.
-- Under point reads, with that index the writer was busy 2.1-2.3 s of every 6 against
-- 1.3-1.5 s without it, and the server spent 28.2 us of CPU per read against 22.8 us
-- (bench/ab.sh, means of 6 pairs in both orders; creates: 80.7 against 76.5 us, less in 5
-- pairs of 6).
--
-- A row here says: in the block of 16,384 audit ids `block` (id >> 14), the token's calls
-- have ids from first_id to last_id (other tokens' calls come in between) and times from
-- first_at to last_at. A write of audit rows extends the rows of its blocks in the same
-- transaction; the current block's rows sit together (the key begins with the block), so a
-- write changes a page or two here. A token's calls are read by walking its ranges newest
-- first (store::audit::list): reading one range reads at most one block of the log.

CREATE TABLE audit_token_ranges (
    block    INTEGER NOT NULL,                        -- audit_log id >> 14
    token_id INTEGER NOT NULL,
    first_id INTEGER NOT NULL,
    last_id  INTEGER NOT NULL,
    first_at INTEGER NOT NULL,                        -- ms
    last_at  INTEGER NOT NULL,
    PRIMARY KEY (block, token_id)
) WITHOUT ROWID;

-- A row's block never changes, so this index moves only when a token's first call in a
-- block adds a row.
CREATE INDEX audit_token_ranges_token ON audit_token_ranges (token_id, block);

INSERT INTO audit_token_ranges (block, token_id, first_id, last_id, first_at, last_at)
SELECT id >> 14, token_id, min(id), max(id), min(at), max(at)
FROM audit_log
WHERE token_id IS NOT NULL
GROUP BY id >> 14, token_id;

DROP INDEX audit_log_token;
