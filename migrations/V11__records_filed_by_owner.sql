-- Each record table's owner index, `(account_id, owner_id, id)`, keeps an agent's newest rows
-- on a leaf of its own. A commit of creates from many agents changed one leaf per agent, and
-- every changed page is written to the WAL at commit: with 100 agents, half of a create
-- run's WAL frames. A new row now waits in a small index of unfiled rows, in id order (a
-- leaf or two a commit), until a background pass files it under its owner, many rows a leaf
-- (`store::filing`). An agent's page reads both and merges them in id order
-- (`store::records`). Rows already stored are filed: the column's default; the API inserts
-- with `filed = 0`.
ALTER TABLE leads ADD COLUMN filed INTEGER NOT NULL DEFAULT 1 CHECK (filed IN (0, 1));
DROP INDEX leads_owner;
CREATE INDEX leads_owner ON leads (account_id, owner_id, id) WHERE filed = 1;
CREATE INDEX leads_unfiled ON leads (account_id, id, owner_id) WHERE filed = 0;

ALTER TABLE jobs ADD COLUMN filed INTEGER NOT NULL DEFAULT 1 CHECK (filed IN (0, 1));
DROP INDEX jobs_owner;
CREATE INDEX jobs_owner ON jobs (account_id, owner_id, id) WHERE filed = 1;
CREATE INDEX jobs_unfiled ON jobs (account_id, id, owner_id) WHERE filed = 0;

ALTER TABLE invoices ADD COLUMN filed INTEGER NOT NULL DEFAULT 1 CHECK (filed IN (0, 1));
DROP INDEX invoices_owner;
CREATE INDEX invoices_owner ON invoices (account_id, owner_id, id) WHERE filed = 1;
CREATE INDEX invoices_unfiled ON invoices (account_id, id, owner_id) WHERE filed = 0;

ALTER TABLE appointments ADD COLUMN filed INTEGER NOT NULL DEFAULT 1 CHECK (filed IN (0, 1));
DROP INDEX appointments_owner;
CREATE INDEX appointments_owner ON appointments (account_id, owner_id, id) WHERE filed = 1;
CREATE INDEX appointments_unfiled ON appointments (account_id, id, owner_id) WHERE filed = 0;
