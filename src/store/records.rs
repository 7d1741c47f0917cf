//! One generic module for the four resource tables. Callers describe a table by its name and
//! its field columns; every table also has `id`, `account_id`, `owner_id`, `created_at`,
//! `updated_at` and `filed` (whether the row is in its owner and account indexes yet, see
//! `store::filing`). Table and column names come from static descriptions, never from input.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::StoreResult;
use crate::model::{AccountId, UserId};

mod page;

pub use page::{PageQuery, list_page, page_steps};

/// A resource table: its name, its field columns in order, and the statements the API runs
/// on every call, written once (a point read used to format and hash its SQL per call).
#[derive(Debug)]
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// Field columns (beyond the common ones), in order.
    pub columns: Vec<&'static str>,
    /// `id, owner_id, created_at, updated_at` and the field columns: what statements return.
    returning: String,
    /// The point read: for a whole account, and for one owner.
    by_id: [String; 2],
    /// The insert, of an unfiled row (see `store::filing`), with an id never handed out before
    /// (`store::ids`). Not `RETURNING` the row: SQLite gathers returned rows in a temporary
    /// table, which cost the writer more than building the row from what it inserted.
    insert: String,
    /// Files a chunk of unfiled rows under their owners and accounts.
    file: String,
    /// The largest id, and whether any row waits to be filed.
    unfiled_state: String,
    /// The largest id.
    max_id: String,
}

/// Which rows a caller may reach: the account's, and an agent only their own.
#[derive(Debug, Clone, Copy)]
pub struct Reach {
    /// The caller's account.
    pub account_id: AccountId,
    /// `Some(user)` for an agent: only rows that user owns.
    pub owner: Option<UserId>,
}

/// A stored row: the common columns and the field values in column order.
#[derive(Debug, Clone)]
pub struct Row {
    /// Id.
    pub id: i64,
    /// Owning user.
    pub owner_id: UserId,
    /// Created (ms).
    pub created_at: i64,
    /// Updated (ms).
    pub updated_at: i64,
    /// Field values, in the table's column order.
    pub values: Vec<Value>,
}

/// A record's columns as a view reads them: from an owned `Row`, or in place from a
/// statement's current row while a page is written out, without copying its text.
pub trait Columns {
    /// `(id, owner_id, created_at, updated_at)`.
    fn common(&self) -> rusqlite::Result<(i64, UserId, i64, i64)>;
    /// The value of the `i`th field column.
    fn field(&self, i: usize) -> rusqlite::Result<ValueRef<'_>>;
}

impl Columns for Row {
    fn common(&self) -> rusqlite::Result<(i64, UserId, i64, i64)> {
        Ok((self.id, self.owner_id, self.created_at, self.updated_at))
    }

    fn field(&self, i: usize) -> rusqlite::Result<ValueRef<'_>> {
        self.values
            .get(i)
            .map(ValueRef::from)
            .ok_or(rusqlite::Error::InvalidColumnIndex(i))
    }
}

/// Where the field columns start in what statements return (after the four of `common`).
const FIELDS_FROM: usize = 4;

/// The current row of a statement returning `Table::returning` (see `list_page`).
pub struct InPlace<'a, 'stmt>(&'a rusqlite::Row<'stmt>);

impl Columns for InPlace<'_, '_> {
    fn common(&self) -> rusqlite::Result<(i64, UserId, i64, i64)> {
        let r = self.0;
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    }

    fn field(&self, i: usize) -> rusqlite::Result<ValueRef<'_>> {
        self.0.get_ref(FIELDS_FROM + i)
    }
}

impl Table {
    /// Describes the table `name` with these field columns.
    pub fn new(name: &'static str, columns: Vec<&'static str>) -> Table {
        let mut returning = String::from("id, owner_id, created_at, updated_at");
        for c in &columns {
            returning.push_str(", ");
            returning.push_str(c);
        }
        let by_id = format!("SELECT {returning} FROM {name} WHERE id = ?1 AND account_id = ?2");
        let max_id = format!("SELECT COALESCE(MAX(id), 0) FROM {name}");
        let placeholders: String = (5..5 + columns.len()).map(|i| format!(", ?{i}")).collect();
        let insert = format!(
            "INSERT INTO {name} (id, account_id, owner_id, created_at, updated_at, filed, {}) \
             VALUES ({}, ?1, ?2, ?3, ?4, 0{placeholders})",
            columns.join(", "),
            super::ids::next_id_sql(name),
        );
        Table {
            name,
            columns,
            by_id: [by_id.clone(), format!("{by_id} AND owner_id = ?3")],
            returning,
            insert,
            file: format!(
                "UPDATE {name} SET filed = 1 WHERE id IN \
                   (SELECT id FROM {name} INDEXED BY {name}_unfiled WHERE filed = 0 LIMIT ?1)"
            ),
            unfiled_state: format!(
                "SELECT ({max_id}), \
                   EXISTS (SELECT 1 FROM {name} INDEXED BY {name}_unfiled WHERE filed = 0)"
            ),
            max_id,
        }
    }

    fn decode(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        let (id, owner_id, created_at, updated_at) = InPlace(r).common()?;
        let mut values = Vec::with_capacity(self.columns.len());
        for i in 0..self.columns.len() {
            values.push(r.get::<_, Value>(FIELDS_FROM + i)?);
        }
        Ok(Row {
            id,
            owner_id,
            created_at,
            updated_at,
            values,
        })
    }
}

fn reach_clause(reach: Reach, params: &mut Vec<Value>) -> String {
    params.push(Value::Integer(reach.account_id.0));
    let mut s = format!("account_id = ?{}", params.len());
    if let Some(owner) = reach.owner {
        params.push(Value::Integer(owner.0));
        s.push_str(&format!(" AND owner_id = ?{}", params.len()));
    }
    s
}

/// Inserts a row owned by `owner`; `values` follow the table's column order. The row comes
/// back as stored: each field's value has its column's type (see `resources::validate`), so
/// SQLite converts none of them.
pub fn insert(
    conn: &Connection,
    table: &Table,
    account: AccountId,
    owner: UserId,
    values: Vec<Value>,
    now: i64,
) -> StoreResult<Row> {
    let common = [account.0, owner.0, now, now].map(Value::Integer);
    let mut stmt = conn.prepare_cached(&table.insert)?;
    stmt.execute(params_from_iter(common.iter().chain(&values)))?;
    Ok(Row {
        id: conn.last_insert_rowid(),
        owner_id: owner,
        created_at: now,
        updated_at: now,
        values,
    })
}

/// Files up to `limit` of the table's unfiled rows under their owners and accounts (see
/// `store::filing`); returns how many it filed. Which rows does not matter: every page in id
/// order reads both kinds.
pub fn file_unfiled(conn: &Connection, table: &Table, limit: usize) -> StoreResult<usize> {
    let mut stmt = conn.prepare_cached(&table.file)?;
    Ok(stmt.execute([limit as i64])?)
}

/// The table's largest id, 0 when it is empty.
pub fn max_id(conn: &Connection, table: &Table) -> StoreResult<i64> {
    let mut stmt = conn.prepare_cached(&table.max_id)?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// The table's largest id (0 when empty), and whether some row waits to be filed under its
/// owner: from one snapshot.
pub fn unfiled_state(conn: &Connection, table: &Table) -> StoreResult<(i64, bool)> {
    let mut stmt = conn.prepare_cached(&table.unfiled_state)?;
    Ok(stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The row with `id`, if the caller can reach it.
pub fn find_by_id(
    conn: &Connection,
    table: &Table,
    reach: Reach,
    id: i64,
) -> StoreResult<Option<Row>> {
    Ok(view_by_id(conn, table, reach, id, |r| table.decode(r.0))?.transpose()?)
}

/// What `view` makes of the row with `id`, if the caller can reach it, read in place: a
/// point read's answer is written from the statement's row, not from a copy of it.
pub fn view_by_id<R>(
    conn: &Connection,
    table: &Table,
    reach: Reach,
    id: i64,
    view: impl FnOnce(&InPlace<'_, '_>) -> R,
) -> StoreResult<Option<R>> {
    let mut stmt = conn.prepare_cached(&table.by_id[usize::from(reach.owner.is_some())])?;
    let view = |r: &rusqlite::Row<'_>| Ok(view(&InPlace(r)));
    let out = match reach.owner {
        None => stmt.query_row(params![id, reach.account_id.0], view),
        Some(owner) => stmt.query_row(params![id, reach.account_id.0, owner.0], view),
    };
    Ok(out.optional()?)
}

/// True when the caller can reach the row `id` of `table`.
pub fn is_reachable(conn: &Connection, table: &str, reach: Reach, id: i64) -> StoreResult<bool> {
    let mut params = vec![Value::Integer(id)];
    let sql = format!(
        "SELECT 1 FROM {table} WHERE id = ?1 AND {}",
        reach_clause(reach, &mut params)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row(params_from_iter(params), |_| Ok(()))
        .optional()?
        .is_some())
}

/// Sets the given columns (by index) of a reachable row; `None` when it is not reachable.
pub fn update(
    conn: &Connection,
    table: &Table,
    reach: Reach,
    id: i64,
    changes: Vec<(usize, Value)>,
    now: i64,
) -> StoreResult<Option<Row>> {
    let mut params = vec![Value::Integer(now), Value::Integer(id)];
    let mut sets = String::from("updated_at = ?1");
    for (col, value) in changes {
        params.push(value);
        sets.push_str(&format!(", {} = ?{}", table.columns[col], params.len()));
    }
    let sql = format!(
        "UPDATE {} SET {sets} WHERE id = ?2 AND {} RETURNING {}",
        table.name,
        reach_clause(reach, &mut params),
        table.returning
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row(params_from_iter(params), |r| table.decode(r))
        .optional()?)
}

/// Clears the reference `column` (by index) of the account's rows that point at `target`,
/// as a change of theirs: `updated_at` moves, so an incremental sync sees it. Returns the
/// rows as they now are. A deleted record's references are cleared this way before its
/// delete, which would otherwise clear them itself (`ON DELETE SET NULL`) and tell no one.
pub fn clear_references(
    conn: &Connection,
    table: &Table,
    column: usize,
    account: AccountId,
    target: i64,
    now: i64,
) -> StoreResult<Vec<Row>> {
    let sql = format!(
        "UPDATE {name} SET {col} = NULL, updated_at = ?1 WHERE {col} = ?2 AND account_id = ?3 \
         RETURNING {}",
        table.returning,
        name = table.name,
        col = table.columns[column],
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![now, target, account], |r| table.decode(r))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Deletes a reachable row, returning its last state.
pub fn delete(conn: &Connection, table: &Table, reach: Reach, id: i64) -> StoreResult<Option<Row>> {
    let mut params = vec![Value::Integer(id)];
    let sql = format!(
        "DELETE FROM {} WHERE id = ?1 AND {} RETURNING {}",
        table.name,
        reach_clause(reach, &mut params),
        table.returning
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row(params_from_iter(params), |r| table.decode(r))
        .optional()?)
}

#[cfg(test)]
mod tests;
