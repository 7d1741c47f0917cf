-- An id people have seen is never handed out again. SQLite gives a new row the largest id in
-- its table plus one: deleting the newest lead gave its id to the next lead, deleting the
-- newest webhook endpoint its id to the next endpoint, and a prune that emptied the outbox or
-- the audit log (nothing sent, or no call made, for a whole retention period) started their
-- ids again at 1. An integrator that keeps the highest lead id it has seen would miss the new
-- lead, and one that keeps deleted ids would drop it as deleted; `webhook replay 12` could
-- send another delivery than the one a person noted.
--
-- Each table's highest deleted id that was the newest at its deletion is kept here, by a
-- trigger, whichever process deletes; an insert takes the id after it while it is at or
-- above the table's largest id, and leaves SQLite's choice alone otherwise (`store::ids`).
-- `AUTOINCREMENT` does the same by writing its counter at every insert: 1.3-5.2 us more CPU a
-- create (3 pairs of 8 s create runs on the benchmark's database). This costs a look-up in a
-- one-page table at each insert of a record, an endpoint or a delivery and at each write of
-- audit rows, and a seek to the table's last row at each row deleted (~0.25 us a row of a
-- prune). A migration that rebuilds one of these tables must create its trigger again (a test
-- checks that each table has one).
--
-- What this cannot know: the ids handed out twice before it stay as they are, and the newest
-- row deleted before it, if no row took its id yet, leaves no floor (its id goes once more).
-- A restored backup brings back the floors and ids of its day, as `AUTOINCREMENT` would.

CREATE TABLE id_floors (
    tbl   TEXT    PRIMARY KEY,                        -- the table
    floor INTEGER NOT NULL                            -- new ids go above it
) WITHOUT ROWID;

CREATE TRIGGER leads_newest_deleted AFTER DELETE ON leads
WHEN old.id > (SELECT coalesce(max(id), 0) FROM leads)
BEGIN
    INSERT INTO id_floors (tbl, floor) VALUES ('leads', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER jobs_newest_deleted AFTER DELETE ON jobs
WHEN old.id > (SELECT coalesce(max(id), 0) FROM jobs)
BEGIN
    INSERT INTO id_floors (tbl, floor) VALUES ('jobs', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER invoices_newest_deleted AFTER DELETE ON invoices
WHEN old.id > (SELECT coalesce(max(id), 0) FROM invoices)
BEGIN
    INSERT INTO id_floors (tbl, floor) VALUES ('invoices', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER appointments_newest_deleted AFTER DELETE ON appointments
WHEN old.id > (SELECT coalesce(max(id), 0) FROM appointments)
BEGIN
    INSERT INTO id_floors (tbl, floor) VALUES ('appointments', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER webhook_endpoints_newest_deleted AFTER DELETE ON webhook_endpoints
WHEN old.id > (SELECT coalesce(max(id), 0) FROM webhook_endpoints)
BEGIN
    INSERT INTO id_floors (tbl, floor) VALUES ('webhook_endpoints', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER webhook_deliveries_newest_deleted AFTER DELETE ON webhook_deliveries
WHEN old.id > (SELECT coalesce(max(id), 0) FROM webhook_deliveries)
BEGIN
    INSERT INTO id_floors (tbl, floor) VALUES ('webhook_deliveries', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER audit_log_newest_deleted AFTER DELETE ON audit_log
WHEN old.id > (SELECT coalesce(max(id), 0) FROM audit_log)
BEGIN
    INSERT INTO id_floors (tbl, floor) VALUES ('audit_log', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;
