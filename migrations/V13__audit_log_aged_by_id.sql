-- The audit log's last two indexes go: `audit_log_at` and `audit_log_account`. In their place,
-- where each account's calls are, block by block, as V9 did for tokens.
--
-- Every call writes an audit row, and each row paid an entry in both indexes: three b-tree
-- inserts a call. Now one, and one row here per account and block for each write of the log
-- (the telemetry flusher writes about once a second). Under point reads (bench/ab.sh's load, 3 pairs of 8 s
-- runs), the writer spent 1.53-1.58 us of CPU a read before this migration and 1.03 after,
-- and the whole server 18.2-19.3 against 16.9-17.5 us. The two indexes were also 120 MB of
-- the benchmark database's 764 MB. (This migration took 1.8 s on that database's 4.2
-- million rows.)
--
-- `audit_log_at` served the prune and the `since`/`until` filters. The prune now deletes the
-- run of smallest ids (rows are inserted in id order, stamped with their call's time), up to
-- the first row stamped after the cutoff, found from the ranges below (within a block of it);
-- a time window is turned into id ranges by the same rows, which carry each range's times.
--
-- `audit_log_account` served a page of one account's calls. The account's ranges bound it
-- now, as a token's do: reading one range reads at most one block of the log.
--
-- A row here says: in the block of 16,384 audit ids `block` (id >> 14), the account's calls
-- have ids from first_id to last_id and times from first_at to last_at. Calls that named no
-- account (no token identified) are account 0, so that every row of the log lies in a range.

CREATE TABLE audit_account_ranges (
    block      INTEGER NOT NULL,                      -- audit_log id >> 14
    account_id INTEGER NOT NULL,                      -- 0: the calls of no account
    first_id   INTEGER NOT NULL,
    last_id    INTEGER NOT NULL,
    first_at   INTEGER NOT NULL,                      -- ms
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (block, account_id)
) WITHOUT ROWID;

CREATE INDEX audit_account_ranges_account ON audit_account_ranges (account_id, block);

INSERT INTO audit_account_ranges (block, account_id, first_id, last_id, first_at, last_at)
SELECT id >> 14, coalesce(account_id, 0), min(id), max(id), min(at), max(at)
FROM audit_log
GROUP BY id >> 14, coalesce(account_id, 0);

DROP INDEX audit_log_at;
DROP INDEX audit_log_account;
