//! Listing the log: filters, pages newest first, and the index walks of a range of ids.

use super::*;

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
fn a_page_of_a_range_walks_its_ids_and_ranges_are_found_by_index() {
    let conn = migrated();
    let plan = |sql: &str, args: Vec<i64>| -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let details = explain
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        details.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    // One range of a token's or an account's ids, in a time window: a bounded walk of the
    // log's ids, not the whole log.
    for (token, since) in [(Some(TokenId(7)), None), (None, Some(5))] {
        let (sql, args) = list_query(
            &AuditFilter {
                account: Some(AccountId(1)),
                token,
                since,
                before_id: Some(1_000),
                limit: 50,
                ..Default::default()
            },
            Some(900),
        );
        let p = plan(&sql, args);
        assert!(
            p.contains("SEARCH audit_log USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
            "{p}"
        );
    }
    for (sql, index) in [
        (RANGES_OF_TOKEN, "audit_token_ranges_token"),
        (RANGES_OF_ACCOUNT, "audit_account_ranges_account"),
    ] {
        let p = plan(sql, vec![7, 1, 2]);
        assert!(p.contains(&format!("INDEX {index}")), "{p}");
    }
}

#[test]
fn calls_come_newest_first_whole_and_once_across_blocks_and_pages() {
    let conn = migrated();
    calls_over_blocks(&conn);
    assert_eq!(blocks(&conn), [0, 1, 2]);
    let log = stored_log(&conn);
    assert_eq!(
        log.len(),
        242,
        "240 calls and the two rows that moved the ids on"
    );
    let mut whose: Vec<Whose> = (1..=5).map(Whose::Token).collect();
    whose.extend((0..=3).map(Whose::Account));
    whose.push(Whose::Everyone);
    for who in whose {
        for (since, until) in [
            (None, None),
            (Some(1_085_000), None),
            (Some(1_079_500), Some(1_161_000)),
            (None, Some(1_012_000)),
            (Some(0), Some(1)),
            (Some(2_000_000), None),
        ] {
            let want: Vec<i64> = log
                .iter()
                .filter(|e| match who {
                    Whose::Token(t) => e.token_id == Some(TokenId(t)),
                    Whose::Account(a) => e.account_id == Some(AccountId(a)),
                    Whose::Everyone => true,
                })
                .filter(|e| since.is_none_or(|s| e.at >= s) && until.is_none_or(|u| e.at < u))
                .map(|e| e.id)
                .collect();
            for limit in [1, 3, 7, 50, 500] {
                assert_eq!(
                    all_pages(&conn, who, since, until, limit),
                    want,
                    "{who:?}, {since:?}..{until:?}, pages of {limit}"
                );
            }
        }
    }
}
