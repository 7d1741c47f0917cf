-- A record's id is never handed out again. SQLite gives a new row the largest id in its table
-- plus one, so deleting the newest lead gave its id to the next lead: an integrator that
-- keeps the highest id it has seen, or the ids of deleted records, would miss the new lead or
-- drop it as deleted.
--
-- Each table's highest deleted id that was the newest at its deletion is kept here, by a
-- trigger, whichever process deletes; an insert takes the id after it while it is at or
-- above the table's largest id (`store::records`, `Table::insert`), and leaves SQLite's
-- choice alone otherwise. A migration that rebuilds one of these tables must create its
-- trigger again (a test checks that each table has one). `AUTOINCREMENT` does the same by writing its counter at
-- every insert: 1.3-5.2 us more CPU a create (3 pairs of 8 s create runs on the benchmark's
-- database); this costs a look-up in a one-page table.
--
-- What this cannot know: the ids handed out twice before it stay as they are, and the newest
-- row deleted before it, if no row took its id yet, leaves no floor (its id goes once more).
-- A restored backup brings back the floors and ids of its day, as `AUTOINCREMENT` would.

CREATE TABLE record_id_floors (
    tbl   TEXT    PRIMARY KEY,                        -- the records table
    floor INTEGER NOT NULL                            -- new ids go above it
) WITHOUT ROWID;

CREATE TRIGGER leads_newest_deleted AFTER DELETE ON leads
WHEN old.id > (SELECT coalesce(max(id), 0) FROM leads)
BEGIN
    INSERT INTO record_id_floors (tbl, floor) VALUES ('leads', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER jobs_newest_deleted AFTER DELETE ON jobs
WHEN old.id > (SELECT coalesce(max(id), 0) FROM jobs)
BEGIN
    INSERT INTO record_id_floors (tbl, floor) VALUES ('jobs', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER invoices_newest_deleted AFTER DELETE ON invoices
WHEN old.id > (SELECT coalesce(max(id), 0) FROM invoices)
BEGIN
    INSERT INTO record_id_floors (tbl, floor) VALUES ('invoices', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;

CREATE TRIGGER appointments_newest_deleted AFTER DELETE ON appointments
WHEN old.id > (SELECT coalesce(max(id), 0) FROM appointments)
BEGIN
    INSERT INTO record_id_floors (tbl, floor) VALUES ('appointments', old.id)
        ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor);
END;
