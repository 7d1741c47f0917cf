//! Stored first answers to POSTs carrying an `Idempotency-Key`, written in the same
//! transaction as the change they report.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;
use crate::model::{AccountId, UserId};

/// How long an answer is kept (ms): a retry within it gets the first answer again.
pub const TTL_MS: i64 = 24 * 3_600_000;

/// A stored answer.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    /// SHA-256 of the request it answered.
    pub request_hash: Vec<u8>,
    /// The user whose request it answered (`None` for answers stored before migration V15).
    pub user_id: Option<UserId>,
    /// HTTP status.
    pub status: u16,
    /// Headers to replay, as a JSON object.
    pub headers: String,
    /// The body.
    pub body: Vec<u8>,
}

/// The answer stored under `key` in `account` since `since` (ms), if any.
pub fn find(
    conn: &Connection,
    account: AccountId,
    key: &str,
    since: i64,
) -> StoreResult<Option<StoredAnswer>> {
    Ok(conn
        .prepare_cached(
            "SELECT request_hash, status, headers, body, user_id FROM idempotency_keys \
             WHERE account_id = ?1 AND key = ?2 AND created_at >= ?3",
        )?
        .query_row(params![account, key, since], |r| {
            Ok(StoredAnswer {
                request_hash: r.get(0)?,
                status: r.get(1)?,
                headers: r.get(2)?,
                body: r.get(3)?,
                user_id: r.get(4)?,
            })
        })
        .optional()?)
}

/// Stores an answer; an expired answer under the same key gives way.
pub fn insert(
    conn: &Connection,
    account: AccountId,
    key: &str,
    answer: &StoredAnswer,
    expired_before: i64,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM idempotency_keys WHERE account_id = ?1 AND key = ?2 AND created_at < ?3",
    )?
    .execute(params![account, key, expired_before])?;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys \
           (account_id, key, request_hash, status, headers, body, created_at, user_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        account,
        key,
        answer.request_hash,
        answer.status,
        answer.headers,
        answer.body,
        now,
        answer.user_id
    ])?;
    Ok(())
}

/// Deletes at most `at_most` of the answers stored before `before` (ms), oldest first;
/// returns how many.
pub fn prune(conn: &Connection, before: i64, at_most: usize) -> StoreResult<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE rowid IN \
               (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 \
                ORDER BY created_at LIMIT ?2)",
        )?
        .execute(params![before, at_most as i64])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prune_takes_the_oldest_expired_answers_a_bounded_write_at_a_time() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut conn).unwrap(); // with account 1
        let answer = StoredAnswer {
            request_hash: vec![0; 32],
            user_id: None,
            status: 201,
            headers: "{}".into(),
            body: b"{}".to_vec(),
        };
        // Stored at 50, 40, ... 0 and at 100: the newest first, so that the oldest are not
        // the first rows.
        for (i, at) in [100, 50, 40, 30, 20, 10, 0].into_iter().enumerate() {
            insert(&conn, AccountId(1), &format!("k{i}"), &answer, 0, at).unwrap();
        }
        let kept = |conn: &Connection| -> Vec<i64> {
            conn.prepare("SELECT created_at FROM idempotency_keys ORDER BY created_at")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(prune(&conn, 45, 2).unwrap(), 2);
        assert_eq!(kept(&conn), [20, 30, 40, 50, 100], "the two oldest went");
        assert_eq!(prune(&conn, 45, 2).unwrap(), 2);
        assert_eq!(prune(&conn, 45, 2).unwrap(), 1);
        assert_eq!(prune(&conn, 45, 2).unwrap(), 0);
        assert_eq!(kept(&conn), [50, 100]);
        assert!(find(&conn, AccountId(1), "k0", 0).unwrap().is_some());
    }
}
