//! One page of a resource table's reachable rows: the statement for a filter and a position,
//! its rows handed over in place, and the budget of steps a page should take.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{InPlace, Reach, Table, reach_clause};
use crate::store::StoreResult;

/// Where a page starts and what it filters on.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// Only rows with this status.
    pub status: Option<String>,
    /// Only rows updated at or after this instant; the page is then in `updated_at` order.
    pub updated_since: Option<i64>,
    /// Continue after this position: `(updated_at, id)` in updated order, `(_, id)` otherwise.
    pub after: Option<(i64, i64)>,
    /// Page size.
    pub limit: u32,
}

/// One page of reachable rows: by id, or by `(updated_at, id)` when `updated_since` is set.
/// Each row is handed to `each` in place, in page order.
pub fn list_page(
    conn: &Connection,
    table: &Table,
    reach: Reach,
    q: &PageQuery,
    mut each: impl FnMut(&InPlace<'_, '_>) -> StoreResult<()>,
) -> StoreResult<()> {
    let (sql, params) = page_query(table, reach, q);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    while let Some(r) = rows.next()? {
        each(&InPlace(r))?;
    }
    Ok(())
}

/// The SQLite steps a page should take at most: an unfiltered page walks its index and
/// takes ~15 per row (777 for 51 rows of leads); twice that, and room for a filter that
/// skips a few rows, or an agent's page that reads past a few hundred other agents' unfiled
/// rows. A page past it is better run where a long read holds nobody up.
pub fn page_steps(q: &PageQuery) -> u32 {
    1_000 + 30 * (q.limit + 1)
}

/// The statement of a page and its arguments.
pub(super) fn page_query(table: &Table, reach: Reach, q: &PageQuery) -> (String, Vec<Value>) {
    let mut params = Vec::new();
    let mut filter = reach_clause(reach, &mut params);
    if let Some(status) = &q.status {
        params.push(Value::Text(status.clone()));
        filter.push_str(&format!(" AND status = ?{}", params.len()));
    }
    let by_update = q.updated_since.is_some();
    if let Some(since) = q.updated_since {
        params.push(Value::Integer(since));
        filter.push_str(&format!(" AND updated_at >= ?{}", params.len()));
    }
    match (q.after, by_update) {
        (Some((at, id)), true) => {
            params.push(Value::Integer(at));
            params.push(Value::Integer(id));
            filter.push_str(&format!(
                " AND (updated_at, id) > (?{}, ?{})",
                params.len() - 1,
                params.len()
            ));
        }
        (Some((_, id)), false) => {
            params.push(Value::Integer(id));
            filter.push_str(&format!(" AND id > ?{}", params.len()));
        }
        (None, _) => {}
    }
    let (returning, name) = (&table.returning, table.name);
    let mut sql = if by_update {
        format!("SELECT {returning} FROM {name} WHERE {filter} ORDER BY updated_at, id")
    } else {
        // Rows in id order: the filed ones through the agent's owner index or the admin's
        // account index, the newest through the index of unfiled rows (`store::filing`),
        // merged. Both arms take the same arguments; a row is in one of them. The indexes are
        // named: SQLite 3.53 chose the account's index for an agent's unfiled arm, for its
        // id order, before that index held filed rows only (V17): 42 ms a page at 400,000
        // leads.
        let filed = if reach.owner.is_some() {
            "owner"
        } else {
            "account"
        };
        format!(
            "SELECT {returning} FROM {name} INDEXED BY {name}_{filed} \
               WHERE {filter} AND filed = 1 \
             UNION ALL SELECT {returning} FROM {name} INDEXED BY {name}_unfiled \
               WHERE {filter} AND filed = 0 \
             ORDER BY id"
        )
    };
    // A literal, not a parameter: SQLite plans with a bound LIMIT's value and so prepares the
    // statement again at every run (it was an eighth of a list's CPU).
    sql.push_str(&format!(" LIMIT {}", q.limit));
    (sql, params)
}
