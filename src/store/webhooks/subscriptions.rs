//! The endpoints subscribed to each event type, as the writer thread last read them: every
//! API write asks which endpoints its event goes to, and the answer changes only when an
//! endpoint is added or removed, or its events or account change (which nothing does today).
//!
//! What the writer read stays true until:
//! - another connection commits (the CLI adding an endpoint, or any other write): SQLite's
//!   `data_version` on the writer's connection moves. The writer holds its transaction with
//!   `BEGIN IMMEDIATE`, so nobody else commits while one runs: a look at the first ask in
//!   each transaction is enough;
//! - the writer itself changes an endpoint: temporary triggers on its connection (`watch`)
//!   tell, whatever statement did it. Until its transaction ends nothing is kept (what it
//!   reads may yet be undone with a failed write); the next one starts afresh.
//!
//! Off the writer thread, on a connection not watched, or outside a transaction, nothing is
//! kept.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use crate::model::{AccountId, EndpointId};
use crate::store::{StoreResult, writer};

/// Accounts kept at most; past it the map starts again.
const ACCOUNTS: usize = 1024;

#[derive(Default)]
struct Subscriptions {
    /// The writer transaction in which the map was last found current (0: never).
    checked_in: u64,
    /// The connection's `data_version` then.
    data_version: i64,
    /// The transaction in which the writer last changed an endpoint's subscriptions (0: none
    /// since the map was last found current).
    changed_in: u64,
    /// Each account's event types asked for, with their endpoints.
    by_account: HashMap<AccountId, Kinds>,
}

/// An account's event types asked for, each with the endpoints subscribed to it.
type Kinds = Vec<(Box<str>, Vec<EndpointId>)>;

thread_local! {
    static KEPT: RefCell<Subscriptions> = RefCell::new(Subscriptions::default());
}

/// The function the triggers call, and the triggers: one a way an endpoint's subscriptions
/// change.
const CHANGED: &str = "switchboard_endpoints_changed";
const TRIGGERS: [&str; 3] = [
    "AFTER INSERT ON main.webhook_endpoints",
    "AFTER DELETE ON main.webhook_endpoints",
    "AFTER UPDATE OF account_id, events ON main.webhook_endpoints",
];

/// Makes the writer's connection tell when a statement changes an endpoint: a function, and
/// temporary triggers (they live with the connection, not in the file) that call it.
pub(in crate::store) fn watch(conn: &Connection) -> rusqlite::Result<()> {
    // Direct only: no view or trigger stored in the file (which anyone may have written)
    // can call it; a temporary trigger can.
    conn.create_scalar_function(
        CHANGED,
        0,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
        |_| {
            changed();
            Ok(0_i64)
        },
    )?;
    for (i, when) in TRIGGERS.iter().enumerate() {
        conn.execute_batch(&format!(
            "CREATE TEMP TRIGGER {CHANGED}_{i} {when} BEGIN SELECT {CHANGED}(); END"
        ))?;
    }
    Ok(())
}

/// The connection's `data_version`, and whether `watch` ran on it.
const CHECK: &str = "SELECT (SELECT data_version FROM pragma_data_version()), \
       (SELECT count(*) FROM temp.sqlite_master \
          WHERE type = 'trigger' AND name GLOB 'switchboard_endpoints_changed_*')";

/// The endpoints `query` finds for `account` and `kind`, from what the writer read before
/// when that still holds.
pub(super) fn subscribed(
    conn: &Connection,
    account: AccountId,
    kind: &str,
    query: impl FnOnce() -> StoreResult<Vec<EndpointId>>,
) -> StoreResult<Vec<EndpointId>> {
    let transaction = writer::transaction();
    // In autocommit, SQLite having dropped the transaction midway, another process may commit
    // between two statements.
    if transaction == 0 || conn.is_autocommit() {
        return query();
    }
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.changed_in == transaction {
            return query();
        }
        if kept.checked_in != transaction {
            let (version, triggers): (i64, i64) = conn
                .prepare_cached(CHECK)?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if triggers != TRIGGERS.len() as i64 {
                kept.by_account.clear();
                return query();
            }
            if version != kept.data_version || kept.changed_in != 0 {
                kept.by_account.clear();
            }
            kept.checked_in = transaction;
            kept.data_version = version;
            kept.changed_in = 0;
        }
        if let Some(found) = kept
            .by_account
            .get(&account)
            .and_then(|kinds| kinds.iter().find(|(k, _)| **k == *kind))
        {
            return Ok(found.1.clone());
        }
        let endpoints = query()?;
        if kept.by_account.len() >= ACCOUNTS && !kept.by_account.contains_key(&account) {
            kept.by_account.clear();
        }
        kept.by_account
            .entry(account)
            .or_default()
            .push((kind.into(), endpoints.clone()));
        Ok(endpoints)
    })
}

/// Called (through the triggers) by every statement that changes an endpoint's
/// subscriptions, after each row it changed.
fn changed() {
    let transaction = writer::transaction();
    if transaction != 0 {
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            kept.changed_in = transaction;
            kept.by_account.clear();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{delete_endpoint, insert_endpoint, subscribed_endpoints};
    use super::KEPT;
    use crate::model::{AccountId, EndpointId};
    use crate::store::{StoreError, StoreResult, Writer};
    use rusqlite::Connection;

    const ACCOUNT: AccountId = AccountId(7);

    /// A writer on a migrated database with one account, its connection watched as the
    /// store's is, and a second connection to it (the CLI's, say).
    fn writer_and_other() -> (tempfile::TempDir, Writer, Connection) {
        writer_and_other_watched(true)
    }

    fn writer_and_other_watched(watched: bool) -> (tempfile::TempDir, Writer, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        crate::store::migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
               VALUES (7, 'a', 'pro', 'active', 0, 0)",
            [],
        )
        .unwrap();
        if watched {
            super::watch(&conn).unwrap();
        }
        let other = Connection::open(&path).unwrap();
        (dir, Writer::start(conn).unwrap(), other)
    }

    fn add(conn: &Connection, events: &[&str]) -> StoreResult<EndpointId> {
        let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
        insert_endpoint(
            conn,
            ACCOUNT,
            "https://h.example/",
            None,
            &events,
            "whsec_x",
            0,
        )
    }

    /// An endpoint of account 7 inserted through the writer by a statement of the test's own,
    /// not `insert_endpoint`; its id.
    fn insert_by_hand(writer: &Writer, events: &'static str) -> i64 {
        writer
            .write_blocking(move |conn| {
                conn.execute(
                    "INSERT INTO webhook_endpoints (account_id, url, events, secret, \
                       created_at, updated_at) \
                     VALUES (7, 'https://h.example/', ?1, 'whsec_x', 0, 0)",
                    [events],
                )?;
                Ok::<_, StoreError>(conn.last_insert_rowid())
            })
            .unwrap()
    }

    /// What a write on the writer finds subscribed to `lead.created`.
    fn asked(writer: &Writer) -> Vec<i64> {
        writer
            .write_blocking(|c| subscribed_endpoints(c, ACCOUNT, "lead.created"))
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect()
    }

    /// Every way an endpoint comes or goes is seen by the next write that asks: from another
    /// connection, from the writer itself, and not when the writer's change is undone.
    #[test]
    fn what_the_writer_keeps_follows_every_change_of_endpoints() {
        let (_dir, writer, other) = writer_and_other();
        let a = add(&other, &["lead.created"]).unwrap().0;
        add(&other, &["job.created"]).unwrap();
        assert_eq!(asked(&writer), [a]);
        assert_eq!(asked(&writer), [a], "kept");
        let kept = writer
            .write_blocking(|_| Ok::<_, StoreError>(KEPT.with(|k| k.borrow().by_account.clone())))
            .unwrap();
        assert_eq!(
            kept[&ACCOUNT][0].1,
            [EndpointId(a)],
            "kept on the writer thread"
        );

        let b = add(&other, &["*"]).unwrap().0;
        assert_eq!(asked(&writer), [a, b], "added by another connection");

        let (c, in_its_write) = writer
            .write_blocking(|conn| {
                let c = add(conn, &["lead.created", "lead.updated"])?;
                Ok::<_, StoreError>((c.0, subscribed_endpoints(conn, ACCOUNT, "lead.created")?))
            })
            .unwrap();
        assert_eq!(in_its_write.len(), 3, "added by the same write");
        assert_eq!(asked(&writer), [a, b, c], "added by the writer");

        let undone = writer.write_blocking(|conn| {
            let d = add(conn, &["lead.created"])?;
            let seen = subscribed_endpoints(conn, ACCOUNT, "lead.created")?;
            assert!(seen.contains(&d), "seen in the write that added it");
            Err::<(), _>(StoreError::Corrupt("fails after adding".into()))
        });
        assert!(undone.is_err());
        assert_eq!(asked(&writer), [a, b, c], "an undone add is not kept");

        writer
            .write_blocking(move |conn| delete_endpoint(conn, EndpointId(b)))
            .unwrap();
        assert_eq!(asked(&writer), [a, c], "removed by the writer");

        other
            .execute("DELETE FROM webhook_endpoints WHERE id = ?1", [a])
            .unwrap();
        assert_eq!(asked(&writer), [c], "removed by another connection");

        // Whatever statement does it on the writer's connection.
        let e = insert_by_hand(&writer, r#"["lead.created"]"#);
        assert_eq!(asked(&writer), [c, e], "added by a statement of its own");
        writer
            .write_blocking(move |conn| {
                conn.execute(
                    "UPDATE webhook_endpoints SET events = '[\"job.created\"]' WHERE id = ?1",
                    [c],
                )?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(asked(&writer), [e], "events changed");
    }

    /// A writer whose connection is not watched keeps nothing, and still sees every change.
    #[test]
    fn nothing_is_kept_on_a_connection_not_watched() {
        let (_dir, writer, other) = writer_and_other_watched(false);
        let a = add(&other, &["lead.created"]).unwrap().0;
        assert_eq!(asked(&writer), [a]);
        let b = insert_by_hand(&writer, r#"["*"]"#);
        assert_eq!(asked(&writer), [a, b]);
        let kept = writer
            .write_blocking(|_| Ok::<_, StoreError>(KEPT.with(|k| k.borrow().by_account.len())))
            .unwrap();
        assert_eq!(kept, 0);
    }

    /// A write that asks again after its transaction's first answer is kept, and another
    /// account's endpoints are never its.
    #[test]
    fn the_answer_is_kept_per_account_and_event_type() {
        let (_dir, writer, other) = writer_and_other();
        other
            .execute(
                "INSERT INTO accounts (id, name, plan, status, created_at, updated_at) \
                   VALUES (8, 'b', 'pro', 'active', 0, 0)",
                [],
            )
            .unwrap();
        let a = add(&other, &["lead.created"]).unwrap();
        let theirs = insert_endpoint(
            &other,
            AccountId(8),
            "https://h.example/",
            None,
            &["*".to_owned()],
            "whsec_x",
            0,
        )
        .unwrap();
        let answers = writer
            .write_blocking(move |conn| {
                let mut out = Vec::new();
                for _ in 0..2 {
                    for (account, kind) in [
                        (ACCOUNT, "lead.created"),
                        (ACCOUNT, "lead.deleted"),
                        (AccountId(8), "lead.created"),
                    ] {
                        out.push(subscribed_endpoints(conn, account, kind)?);
                    }
                }
                Ok::<_, StoreError>(out)
            })
            .unwrap();
        let once = [vec![a], vec![], vec![theirs]];
        assert_eq!(answers, [once.clone(), once].concat());
    }
}
