//! Ids that are never handed out again (migration V14). SQLite gives a new row the largest id
//! in its table plus one, so the newest row's id, once deleted, went to the next row. Each
//! table below keeps, in `id_floors`, the highest deleted id that was the newest at its
//! deletion (a trigger, whichever process deletes); an insert takes the id after it while it
//! is at or above the table's largest id.

/// The tables whose ids people see and keep: the records, webhook endpoints and deliveries,
/// and the audit log. Each has a trigger named `<table>_newest_deleted`.
pub const KEPT: [&str; 7] = [
    "leads",
    "jobs",
    "invoices",
    "appointments",
    "webhook_endpoints",
    "webhook_deliveries",
    "audit_log",
];

/// The id for a row inserted into `table`, as SQL: the one after the table's floor while the
/// floor is at or above the largest id, else NULL, which lets SQLite pick as it always does.
/// A look-up in a one-page table, and one down the table's last page when it has a floor.
pub fn next_id_sql(table: &str) -> String {
    debug_assert!(KEPT.contains(&table), "{table} keeps no floor");
    format!(
        "(SELECT floor + 1 FROM id_floors WHERE tbl = '{table}' \
           AND floor >= (SELECT COALESCE(MAX(id), 0) FROM {table}))"
    )
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// Every table of `KEPT` has its trigger: a later migration that rebuilds one drops the
    /// table's triggers with it, and would have to create this one again.
    #[test]
    fn every_kept_table_has_its_trigger() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut conn).unwrap();
        for table in KEPT {
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 \
                       AND name = ?1 || '_newest_deleted'",
                    [table],
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("{table}: no trigger ({e})"));
            assert!(
                sql.contains(&format!("VALUES ('{table}', old.id)")),
                "{table}: {sql}"
            );
        }
        let triggers: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' \
                   AND name LIKE '%\\_newest\\_deleted' ESCAPE '\\'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(triggers, KEPT.len() as i64, "one a table, no other");
    }
}
