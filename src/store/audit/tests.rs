use super::*;

fn entry(at: i64, token: Option<i64>, status: u16) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        account_id: token.map(|_| AccountId(1)),
        token_id: token.map(TokenId),
        token_prefix: token.map(|t| format!("pref{t:04}")),
        user_id: token.map(|_| UserId(1)),
        method: "GET".into(),
        path: "/api/v1/leads".into(),
        status,
        code: None,
        ip: "127.0.0.1".into(),
        latency_us: 100,
    }
}

fn migrated() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate::migrate(&mut conn).unwrap();
    conn
}

#[test]
fn filters_combine_and_pages_go_newest_first() {
    let conn = migrated();
    let entries: Vec<_> = (0..30)
        .map(|i| {
            entry(
                1_000 + i,
                (i % 3 != 0).then_some(i % 2),
                200 + (i % 2) as u16,
            )
        })
        .collect();
    insert_many(&conn, &entries).unwrap();
    let ats = |f: AuditFilter| -> Vec<i64> {
        list(&conn, &AuditFilter { limit: 100, ..f })
            .unwrap()
            .iter()
            .map(|e| e.at)
            .collect()
    };
    let want = |keep: &dyn Fn(&AuditEntry) -> bool| -> Vec<i64> {
        entries
            .iter()
            .rev()
            .filter(|e| keep(e))
            .map(|e| e.at)
            .collect()
    };
    assert_eq!(ats(AuditFilter::default()), want(&|_| true));
    assert_eq!(
        ats(AuditFilter {
            token: Some(TokenId(1)),
            ..Default::default()
        }),
        want(&|e| e.token_id == Some(TokenId(1)))
    );
    assert_eq!(
        ats(AuditFilter {
            account: Some(AccountId(1)),
            status: Some(200),
            since: Some(1_010),
            until: Some(1_025),
            ..Default::default()
        }),
        want(&|e| e.account_id.is_some() && e.status == 200 && (1_010..1_025).contains(&e.at))
    );
    let first = list(
        &conn,
        &AuditFilter {
            limit: 4,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(first.len(), 4);
    let next = ats(AuditFilter {
        before_id: Some(first[3].id),
        ..Default::default()
    });
    assert_eq!(next, want(&|e| e.at < first[3].at));
}

#[test]
fn a_token_range_or_account_filter_walks_an_index() {
    let conn = migrated();
    let plan = |f: AuditFilter, from_id: Option<i64>| -> String {
        let (sql, args) = list_query(&AuditFilter { limit: 50, ..f }, from_id);
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let details = explain
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        details.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    // One range of a token's ids: a bounded walk, not the whole log.
    let by_token = plan(
        AuditFilter {
            account: Some(AccountId(1)),
            token: Some(TokenId(7)),
            before_id: Some(1_000),
            ..Default::default()
        },
        Some(900),
    );
    assert!(
        by_token.contains("rowid>? AND rowid<?") || by_token.contains("id>? AND id<?"),
        "{by_token}"
    );
    let by_account = plan(
        AuditFilter {
            account: Some(AccountId(1)),
            ..Default::default()
        },
        None,
    );
    assert!(
        by_account.contains("INDEX audit_log_account"),
        "{by_account}"
    );
    let ranges = {
        let mut explain = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT first_id, last_id FROM audit_token_ranges \
                 WHERE token_id = 7 AND last_at >= 1 AND first_at < 2",
            )
            .unwrap();
        explain
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(
        ranges.contains("INDEX audit_token_ranges_token"),
        "{ranges}"
    );
}

/// A row of no token with this id: the next rows' ids follow it.
fn skip_ids_to(conn: &Connection, id: i64) {
    conn.execute(
        "INSERT INTO audit_log (id, at, method, path, status, ip, latency_us) \
         VALUES (?1, 0, 'GET', '/healthz', 200, '127.0.0.1', 1)",
        [id],
    )
    .unwrap();
}

/// Calls of four tokens over three blocks of ids, written in writes of 40 rows (one
/// statement of 32, then 8 of one row each); every tenth call's time is a minute before
/// its neighbours' (it was answered later).
fn calls_over_blocks(conn: &Connection) -> Vec<AuditEntry> {
    let block = 1i64 << BLOCK_BITS;
    let mut entries = Vec::new();
    for i in 0..240i64 {
        let mut at = 1_000_000 + i * 1_000;
        if i % 10 == 9 {
            at -= 60_000;
        }
        // Token 3 calls in the first and last blocks only, token 4 twice in each.
        let token = match i % 5 {
            _ if [10, 11, 230, 231].contains(&i) => 4,
            0 | 1 => 1,
            2 | 3 => 2,
            _ if (80..160).contains(&i) => 1,
            _ => 3,
        };
        entries.push(entry(at, Some(token), 200));
    }
    let mut ids = Vec::new();
    for (n, chunk) in entries.chunks(40).enumerate() {
        // The writes of calls 80.. and 160.. begin three ids before a block's end: their
        // statements of 32 rows cross into the next block.
        if n == 2 || n == 4 {
            skip_ids_to(conn, (n as i64 / 2) * block - 4);
        }
        insert_many(conn, chunk).unwrap();
        let last = conn.last_insert_rowid();
        ids.extend(last - chunk.len() as i64 + 1..=last);
    }
    entries
        .into_iter()
        .zip(ids)
        .map(|(e, id)| AuditEntry { id, ..e })
        .collect()
}

fn blocks(conn: &Connection) -> Vec<i64> {
    conn.prepare("SELECT DISTINCT block FROM audit_token_ranges ORDER BY block")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_tokens_calls_come_newest_first_whole_and_once_across_blocks_and_pages() {
    let conn = migrated();
    let entries = calls_over_blocks(&conn);
    assert_eq!(blocks(&conn), [0, 1, 2]);
    for token in [1, 2, 3, 4, 5] {
        for (since, until) in [
            (None, None),
            (Some(1_085_000), None),
            (Some(1_079_500), Some(1_161_000)),
            (None, Some(1_012_000)),
        ] {
            let want: Vec<i64> = entries
                .iter()
                .rev()
                .filter(|e| e.token_id == Some(TokenId(token)))
                .filter(|e| since.is_none_or(|s| e.at >= s) && until.is_none_or(|u| e.at < u))
                .map(|e| e.id)
                .collect();
            for limit in [1, 3, 7, 50, 500] {
                let mut got = Vec::new();
                let mut before_id = None;
                loop {
                    let page = list(
                        &conn,
                        &AuditFilter {
                            token: Some(TokenId(token)),
                            account: Some(AccountId(1)),
                            since,
                            until,
                            before_id,
                            limit,
                            ..Default::default()
                        },
                    )
                    .unwrap();
                    assert!(page.len() <= limit as usize);
                    got.extend(page.iter().map(|e| e.id));
                    if page.len() < limit as usize {
                        break;
                    }
                    before_id = page.last().map(|e| e.id);
                }
                assert_eq!(
                    got, want,
                    "token {token}, {since:?}..{until:?}, pages of {limit}"
                );
            }
        }
    }
}

/// (block, token, first id, last id, first time, last time) rows that `sql` selects.
type RangeRow = (i64, i64, i64, i64, i64, i64);

fn ranges(conn: &Connection, sql: &str) -> Vec<RangeRow> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `audit_token_ranges`, by block and token.
fn stored_ranges(conn: &Connection) -> Vec<RangeRow> {
    ranges(
        conn,
        "SELECT block, token_id, first_id, last_id, first_at, last_at \
         FROM audit_token_ranges ORDER BY 1, 2",
    )
}

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
        blocks(&conn),
        [0, 1],
        "the write crossed into the next block"
    );
}

#[test]
fn the_ranges_of_pruned_rows_go_with_them() {
    let conn = migrated();
    let entries = calls_over_blocks(&conn);
    // Calls 0-99 go, and the two rows that moved the ids on: block 0 keeps no call.
    let cutoff = 1_100_000;
    let pruned = prune(&conn, cutoff, 10_000).unwrap();
    let older = entries.iter().filter(|e| e.at < cutoff).count();
    assert_eq!(pruned, older + 2);
    assert_eq!(blocks(&conn), [1, 2]);
    let left = list(
        &conn,
        &AuditFilter {
            token: Some(TokenId(1)),
            limit: 500,
            ..Default::default()
        },
    )
    .unwrap();
    let want = entries
        .iter()
        .filter(|e| e.token_id == Some(TokenId(1)) && e.at >= cutoff)
        .count();
    assert_eq!(left.len(), want);
    prune(&conn, i64::MAX, 10_000).unwrap();
    assert_eq!(
        blocks(&conn),
        Vec::<i64>::new(),
        "an empty log has no ranges"
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
}
