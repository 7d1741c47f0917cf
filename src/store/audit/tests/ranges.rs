//! The ids a write gives its rows and the ranges that find them, also after a prune or a migration.

use super::*;

/// One write of 100 rows (three statements of 32, four of one) from 40 ids before a
/// block's end: the ids follow each other, and the ranges are those the rows themselves
/// give (migration V9's query over the log).
#[test]
fn a_large_write_gives_consecutive_ids_and_the_ranges_of_its_rows() {
    let conn = migrated();
    let block = 1i64 << BLOCK_BITS;
    skip_ids_to(&conn, block - 41);
    let entries: Vec<_> = (0..100)
        .map(|i| entry(5_000 + i, (i % 7 != 0).then_some(i % 3 + 1), 200))
        .collect();
    insert_many(&conn, &entries).unwrap();
    let rows: Vec<(i64, i64, Option<i64>)> = conn
        .prepare("SELECT id, at, token_id FROM audit_log WHERE id >= ?1 ORDER BY id")
        .unwrap()
        .query_map([block - 40], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let want: Vec<_> = (block - 40..)
        .zip(&entries)
        .map(|(id, e)| (id, e.at, e.token_id.map(|t| t.0)))
        .collect();
    assert_eq!(rows, want);
    let stored = stored_ranges(&conn);
    let from_rows = ranges(
        &conn,
        "SELECT id >> 14, token_id, min(id), max(id), min(at), max(at) FROM audit_log \
         WHERE token_id IS NOT NULL GROUP BY id >> 14, token_id ORDER BY 1, 2",
    );
    assert_eq!(stored, from_rows);
    assert_eq!(
        stored_account_ranges(&conn),
        ranges(
            &conn,
            "SELECT id >> 14, coalesce(account_id, 0), min(id), max(id), min(at), max(at) \
             FROM audit_log GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        "migration V13's query over the log"
    );
    assert_eq!(
        blocks(&conn),
        [0, 1],
        "the write crossed into the next block"
    );
}

#[test]
fn the_migration_finds_the_ranges_of_rows_written_before_it() {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate::migrate_to(&mut conn, 8).unwrap();
    let mut stmt = conn
        .prepare(
            "INSERT INTO audit_log (at, account_id, token_id, method, path, status, ip, latency_us) \
             VALUES (?1, 1, ?2, 'GET', '/api/v1/leads', 200, '127.0.0.1', 1)",
        )
        .unwrap();
    for (at, token) in [(10, 1), (20, 2), (40, 1), (30, 1)] {
        stmt.execute(params![at, token]).unwrap();
    }
    skip_ids_to(&conn, 1 << BLOCK_BITS);
    stmt.execute(params![50, 2]).unwrap();
    drop(stmt);
    crate::store::migrate::migrate(&mut conn).unwrap();
    let ranges = stored_ranges(&conn);
    let next = (1 << BLOCK_BITS) + 1;
    assert_eq!(
        ranges,
        [
            (0, 1, 1, 4, 10, 40),
            (0, 2, 2, 2, 20, 20),
            (1, 2, next, next, 50, 50)
        ]
    );
    let ids = |token| -> Vec<i64> {
        list(
            &conn,
            &AuditFilter {
                token: Some(TokenId(token)),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
    };
    assert_eq!(ids(1), [4, 3, 1]);
    assert_eq!(ids(2), [next, 2]);
    // V13: the account's ranges, and those of the row of no account.
    assert_eq!(
        stored_account_ranges(&conn),
        [
            (0, 1, 1, 4, 10, 40),
            (1, 0, next - 1, next - 1, 0, 0),
            (1, 1, next, next, 50, 50)
        ]
    );
    let everyone = list(
        &conn,
        &AuditFilter {
            since: Some(15),
            until: Some(45),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(everyone.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 3, 2]);
}

/// A prune that empties the log does not start its ids again at 1 (`store::ids`): the next
/// write's rows follow the last ones, whole statements of many rows and single ones alike,
/// and their ranges find them.
#[test]
fn ids_go_on_after_a_prune_emptied_the_log() {
    let conn = migrated();
    let batch =
        |at: i64| -> Vec<AuditEntry> { (0..40).map(|i| entry(at + i, Some(i % 3), 200)).collect() };
    insert_many(&conn, &batch(1_000)).unwrap();
    let last: i64 = conn
        .query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    let end = old_run_end(&conn, 1_000_000, 1_000_000).unwrap();
    assert_eq!(prune(&conn, 1_000_000, end, 1_000).unwrap(), 40);
    assert!(stored_log(&conn).is_empty());
    assert!(stored_ranges(&conn).is_empty());
    insert_many(&conn, &batch(2_000_000)).unwrap();
    let ids: Vec<i64> = stored_log(&conn).iter().rev().map(|e| e.id).collect();
    assert_eq!(ids, (last + 1..=last + 40).collect::<Vec<_>>());
    let page = list(
        &conn,
        &AuditFilter {
            token: Some(TokenId(1)),
            limit: 100,
            ..AuditFilter::default()
        },
    )
    .unwrap();
    let want: Vec<i64> = (0..40)
        .rev()
        .filter(|i| i % 3 == 1)
        .map(|i| last + 1 + i)
        .collect();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), want);
    // The next write follows as before.
    insert_many(&conn, &batch(3_000_000)[..1]).unwrap();
    let newest: i64 = conn
        .query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(newest, last + 41);
}
