use super::page::page_query;
use super::*;
use crate::resources::RESOURCES;

/// The row `insert` hands back is the row a read finds, value for value and type for
/// type, and the JSON written from the read's row in place, for every resource with every
/// field set.
#[test]
fn an_inserted_row_is_the_stored_row() {
    let (conn, reach) = account_77_with_its_admin_78();
    let mut refs: Vec<(&str, i64)> = Vec::new();
    for res in RESOURCES {
        let body = sample_body(res, &refs);
        let values = res.validate_create(&body, "").unwrap();
        let row = insert(&conn, &res.table, AccountId(77), UserId(78), values, 1_234).unwrap();
        let stored = find_by_id(&conn, &res.table, reach, row.id)
            .unwrap()
            .unwrap();
        assert_eq!(format!("{row:?}"), format!("{stored:?}"), "{}", res.plural);
        // A point read's answer, written in place, is the JSON of the stored row.
        let in_place = view_by_id(&conn, &res.table, reach, row.id, |r| res.json(r).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(in_place, res.json(&row).unwrap(), "{}", res.plural);
        assert!(
            row.values.iter().all(|v| *v != Value::Null),
            "{}",
            res.plural
        );
        refs.push((res.table.name, row.id));
    }
}

/// A migrated database with account 77 and its admin, user 78, and the admin's reach.
fn account_77_with_its_admin_78() -> (Connection, Reach) {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate::migrate(&mut conn).unwrap();
    conn.execute_batch(
        "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
           VALUES (77, 'a', 'pro', 'active', 0, 0); \
         INSERT INTO users (id, account_id, email, role, permissions, created_at, updated_at) \
           VALUES (78, 77, 'a@example.com', 'admin', 255, 0, 0);",
    )
    .unwrap();
    let reach = Reach {
        account_id: AccountId(77),
        owner: None,
    };
    (conn, reach)
}

/// A create body that sets every field of `res`; references point at `refs` by table.
fn sample_body(res: &crate::resources::Resource, refs: &[(&str, i64)]) -> serde_json::Value {
    use crate::resources::FieldKind;
    let mut body = serde_json::Map::new();
    for (i, f) in res.fields.iter().enumerate() {
        let v = match f.kind {
            FieldKind::Text { .. } => serde_json::json!("some text"),
            FieldKind::Email => serde_json::json!("a@example.com"),
            FieldKind::Phone => serde_json::json!("+1 555 0100"),
            FieldKind::Enum(words) => serde_json::json!(words[0]),
            FieldKind::Integer { min, .. } => serde_json::json!(min.max(1)),
            FieldKind::Date => serde_json::json!("2026-01-31"),
            // Later fields later: an appointment ends after it starts.
            FieldKind::Instant => serde_json::json!(format!("2026-01-31T09:{i:02}:00Z")),
            FieldKind::Currency => serde_json::json!("EUR"),
            FieldKind::Reference(target) => {
                let (_, id) = refs.iter().find(|(t, _)| *t == target.table.name).unwrap();
                serde_json::json!(id)
            }
        };
        body.insert(f.name.to_owned(), v);
    }
    serde_json::Value::Object(body)
}

/// Leads of two accounts, 120 in all, none filed: account 101's of its three agents (10, 11,
/// 12), ids interleaved across owners and accounts, account 102's of an owner 10 it has no
/// user for. A third of them `won`, the others `new`.
fn leads_none_filed() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate::migrate(&mut conn).unwrap();
    conn.execute_batch(
        "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
           VALUES (101, 'a', 'pro', 'active', 0, 0), (102, 'b', 'pro', 'active', 0, 0); \
         INSERT INTO users (id, account_id, email, role, permissions, created_at, updated_at) \
           VALUES (10, 101, 'a@example.com', 'agent', 255, 0, 0), \
                  (11, 101, 'b@example.com', 'agent', 255, 0, 0), \
                  (12, 101, 'c@example.com', 'agent', 255, 0, 0);",
    )
    .unwrap();
    let table = &*crate::resources::LEADS.table;
    let status = table.columns.iter().position(|c| *c == "status").unwrap();
    for i in 0..120_i64 {
        let (account, owner) = match i % 4 {
            0 | 1 => (101, 10 + i % 2),
            2 => (101, 12),
            _ => (102, 10),
        };
        let mut values = vec![Value::Null; table.columns.len()];
        values[0] = Value::Text(format!("lead {i}"));
        values[status] = Value::Text(["new", "won"][(i % 3 == 0) as usize].into());
        insert(&conn, table, AccountId(account), UserId(owner), values, i).unwrap();
    }
    conn
}

fn leads_reach(account: i64, owner: Option<i64>) -> Reach {
    Reach {
        account_id: AccountId(account),
        owner: owner.map(UserId),
    }
}

/// The ids of every lead `reach` reaches, page after page of `limit`; `between` sees each
/// page before the next is read.
fn walk_leads(
    conn: &Connection,
    reach: Reach,
    status: Option<&str>,
    limit: u32,
    mut between: impl FnMut(&[i64]),
) -> Vec<i64> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let q = PageQuery {
            status: status.map(str::to_owned),
            updated_since: None,
            after,
            limit,
        };
        let mut page = Vec::new();
        list_page(conn, &crate::resources::LEADS.table, reach, &q, |r| {
            page.push(r.common()?.0);
            Ok(())
        })
        .unwrap();
        let Some(&last) = page.last() else { break };
        between(&page);
        after = Some((0, last));
        all.extend(page);
    }
    all
}

fn lead_pages(conn: &Connection, reach: Reach, status: Option<&str>, limit: u32) -> Vec<i64> {
    walk_leads(conn, reach, status, limit, |_| {})
}

/// The ids of the leads `reach` reaches, in id order, read without an index: it cannot miss
/// a row either kind of index misses.
fn leads_reached(conn: &Connection, reach: Reach, status: Option<&str>) -> Vec<i64> {
    let mut stmt = conn
        .prepare(
            "SELECT id FROM leads NOT INDEXED WHERE account_id = ?1 \
               AND (?2 IS NULL OR owner_id = ?2) AND (?3 IS NULL OR status = ?3) ORDER BY id",
        )
        .unwrap();
    let owner = reach.owner.map(|o| o.0);
    stmt.query_map(params![reach.account_id.0, owner, status], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every agent's and admin's pages hold the same rows as the reference, in the same order,
/// with or without a status filter.
fn check_lead_pages(conn: &Connection, stage: &str) {
    let reaches = [
        (101, Some(10)),
        (101, Some(11)),
        (101, Some(12)),
        (102, Some(10)),
        (102, Some(11)),
        (101, None),
        (102, None),
    ];
    for (account, owner) in reaches {
        let reach = leads_reach(account, owner);
        for status in [None, Some("won"), Some("new")] {
            assert_eq!(
                lead_pages(conn, reach, status, 7),
                leads_reached(conn, reach, status),
                "{stage}: account {account}, owner {owner:?}, status {status:?}"
            );
        }
    }
}

/// Walks `reach`'s leads four a page, filing the `file` unfiled rows just past the cursor
/// after each page (the next page's among them), so that rows move from one index to the
/// other during the walk. Returns the ids walked and how many pages held both kinds of row.
fn walk_while_filing(conn: &Connection, reach: Reach, file: i64) -> (Vec<i64>, usize) {
    let filed_of = |id: i64| -> i64 {
        conn.query_row("SELECT filed FROM leads WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    let mut mixed = 0;
    let walked = walk_leads(conn, reach, None, 4, |page| {
        let kinds: Vec<i64> = page.iter().map(|&id| filed_of(id)).collect();
        mixed += usize::from(kinds.contains(&0) && kinds.contains(&1));
        conn.execute(
            "UPDATE leads SET filed = 1 WHERE id IN \
               (SELECT id FROM leads WHERE filed = 0 AND id > ?1 ORDER BY id LIMIT ?2)",
            [page[page.len() - 1], file],
        )
        .unwrap();
    });
    (walked, mixed)
}

/// An agent's and an admin's pages hold the same rows in the same order whichever of them
/// are filed yet (under their owner, and in the account index): none filed, some, all.
#[test]
fn pages_are_the_same_before_and_after_filing() {
    let conn = leads_none_filed();
    let table = &*crate::resources::LEADS.table;
    assert!(unfiled_state(&conn, table).unwrap().1);
    check_lead_pages(&conn, "none filed");
    // The agent's rows are every 4th: rows filed just past its cursor between two pages
    // give the next page both kinds.
    let reach = leads_reach(101, Some(10));
    let (walked, mixed) = walk_while_filing(&conn, reach, 6);
    assert_eq!(
        walked,
        leads_reached(&conn, reach, None),
        "filed while walked"
    );
    assert_eq!(walked.len(), 30);
    assert!(mixed >= 5, "{mixed} of 8 pages held both kinds");
    // 6 rows filed after each of 7 pages, the last 3 after the 8th: 75 of 120 left.
    assert_eq!(file_unfiled(&conn, table, 45).unwrap(), 45);
    check_lead_pages(&conn, "some filed");
    assert_eq!(file_unfiled(&conn, table, 1_000).unwrap(), 30);
    assert_eq!(unfiled_state(&conn, table).unwrap(), (120, false));
    check_lead_pages(&conn, "all filed");
    assert_eq!(file_unfiled(&conn, table, 1_000).unwrap(), 0);
}

/// An admin's walk through the whole account, with rows filed into the account index
/// between its pages, misses none and repeats none.
#[test]
fn an_admins_walk_sees_every_row_while_rows_are_filed() {
    let conn = leads_none_filed();
    let reach = leads_reach(101, None);
    let (walked, mixed) = walk_while_filing(&conn, reach, 2);
    assert_eq!(
        walked,
        leads_reached(&conn, reach, None),
        "filed while walked"
    );
    assert_eq!(walked.len(), 90);
    assert!(mixed >= 20, "{mixed} of 23 pages held both kinds");
}

/// A page of 51 in id order, its rows half filed and half not, takes well under the steps a
/// page may take on the calling thread (`page_steps`), an admin's as an agent's.
#[test]
fn a_merged_page_fits_the_inline_budget() {
    let conn = leads_none_filed();
    conn.execute("UPDATE leads SET filed = 1 WHERE id % 2 = 0", [])
        .unwrap();
    let table = &*crate::resources::LEADS.table;
    for reach in [leads_reach(101, None), leads_reach(101, Some(10))] {
        for after in [None, Some((0, 20))] {
            let q = PageQuery {
                after,
                limit: 51,
                ..PageQuery::default()
            };
            let (sql, args) = page_query(table, reach, &q);
            let mut stmt = conn.prepare(&sql).unwrap();
            let mut rows = stmt.query(params_from_iter(args)).unwrap();
            let mut n = 0;
            while rows.next().unwrap().is_some() {
                n += 1;
            }
            drop(rows);
            let steps = stmt.get_status(rusqlite::StatementStatus::VmStep);
            assert!(n > 0);
            assert!(
                u32::try_from(steps).unwrap() * 2 < page_steps(&q),
                "{reach:?} after {after:?}: {n} rows in {steps} steps"
            );
        }
    }
}

/// Every page shape of every resource walks an index in page order and stops after the
/// page: none reads the whole account to sort it (`TEMP B-TREE`), which an admin's page
/// of a large account did before the `_account` indexes.
#[test]
fn no_page_sorts_the_account() {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::store::migrate::migrate(&mut conn).unwrap();
    let reaches = [
        Reach {
            account_id: AccountId(1),
            owner: None,
        },
        Reach {
            account_id: AccountId(1),
            owner: Some(UserId(2)),
        },
    ];
    for res in RESOURCES {
        for reach in reaches {
            for (updated_since, after) in [
                (None, None),
                (None, Some((0, 10))),
                (Some(5), None),
                (Some(5), Some((7, 10))),
            ] {
                let q = PageQuery {
                    status: None,
                    updated_since,
                    after,
                    limit: 51,
                };
                let (sql, args) = page_query(&res.table, reach, &q);
                let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let plan = explain
                    .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect::<Vec<_>>()
                    .join("; ");
                assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
                assert!(plan.contains("INDEX"), "{sql}: {plan}");
                if updated_since.is_none() {
                    let name = res.table.name;
                    let filed = if reach.owner.is_some() {
                        format!("{name}_owner ")
                    } else {
                        format!("{name}_account ")
                    };
                    for index in [filed, format!("{name}_unfiled ")] {
                        assert!(plan.contains(&index), "{sql}: {plan}");
                    }
                }
            }
        }
    }
}

/// Whoever deletes the newest rows (the API's delete, or a statement of many rows), the next
/// insert takes an id above all of them; once a row is above the kept floor, inserts are
/// SQLite's own again, and deleting an older row keeps no floor.
#[test]
fn a_deleted_newest_rows_id_is_never_handed_out_again() {
    let (conn, reach) = account_77_with_its_admin_78();
    let mut refs: Vec<(&str, i64)> = Vec::new();
    for res in RESOURCES {
        let table = &res.table;
        let add = || {
            let values = res.validate_create(&sample_body(res, &refs), "").unwrap();
            insert(&conn, table, AccountId(77), UserId(78), values, 1)
                .unwrap()
                .id
        };
        let ids: Vec<i64> = (0..5).map(|_| add()).collect();
        assert!(delete(&conn, table, reach, ids[4]).unwrap().is_some());
        assert_eq!(add(), ids[4] + 1, "{}", table.name);
        assert_eq!(add(), ids[4] + 2, "{}: past the floor", table.name);
        // The two newest: in one statement, then one at a time from the newest.
        for one_statement in [true, false] {
            let two: Vec<i64> = conn
                .prepare(&format!(
                    "SELECT id FROM {} ORDER BY id DESC LIMIT 2",
                    table.name
                ))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let gone = if one_statement {
                conn.execute(
                    &format!("DELETE FROM {} WHERE id IN (?1, ?2)", table.name),
                    [two[0], two[1]],
                )
                .unwrap()
            } else {
                two.iter()
                    .filter(|&&id| delete(&conn, table, reach, id).unwrap().is_some())
                    .count()
            };
            assert_eq!(gone, 2);
            assert_eq!(add(), two[0] + 1, "{}", table.name);
        }
        let floor = || -> i64 {
            conn.query_row(
                "SELECT floor FROM id_floors WHERE tbl = ?1",
                [table.name],
                |r| r.get(0),
            )
            .unwrap()
        };
        let (newest, kept) = (max_id(&conn, table).unwrap(), floor());
        assert!(delete(&conn, table, reach, ids[0]).unwrap().is_some());
        assert_eq!(floor(), kept, "{}: an older row's delete", table.name);
        assert_eq!(add(), newest + 1, "{}", table.name);
        refs.push((table.name, ids[1]));
    }
}
