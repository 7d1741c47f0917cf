//! The four resources, each described once: fields, rules, statuses, scopes and events.
//! One generic validator and serializer serve them all. No I/O here.

mod catalog;
mod parse;
mod validate;

use std::sync::LazyLock;

use rusqlite::types::ValueRef;
use serde::ser::{Error as _, Serialize, SerializeMap, Serializer};

pub use catalog::{APPOINTMENTS, INVOICES, JOBS, LEADS, RESOURCES};
pub use validate::FieldError;

use crate::auth::scope::Scope;
use crate::clock;
use crate::store::records::{Columns, Row, Table};

/// What a field holds, and so how it is validated, stored and shown.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// Free text up to `max` characters.
    Text {
        /// Maximum length in characters.
        max: usize,
    },
    /// An email address.
    Email,
    /// A phone number: digits and the usual punctuation.
    Phone,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// A whole number in a range.
    Integer {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// An RFC 3339 instant, stored as milliseconds and shown in UTC.
    Instant,
    /// An ISO 4217 currency code such as `EUR`.
    Currency,
    /// The id of a record of another resource in the same account, visible to the caller.
    Reference(&'static Resource),
}

/// One client-settable field.
#[derive(Debug)]
pub struct Field {
    /// Name in JSON and column name.
    pub name: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Must be present (and not null) on create.
    pub required: bool,
    /// Value used on create when the field is absent.
    pub default: Option<&'static str>,
}

/// A resource: `leads`, `jobs`, `invoices` or `appointments`.
#[derive(Debug)]
pub struct Resource {
    /// Plural, as in the path (`leads`).
    pub plural: &'static str,
    /// Singular, as in event names (`lead`).
    pub singular: &'static str,
    /// Its events' types: `<singular>.created`, `.updated`, `.deleted` (written out so that a
    /// change's event type is not put together on the writer at every change).
    pub events: [&'static str; 3],
    /// Client-settable fields, in column order.
    pub fields: &'static [Field],
    /// Scope for GET.
    pub read_scope: &'static str,
    /// Scope for POST, PATCH, DELETE.
    pub write_scope: &'static str,
    /// The store's description of its table.
    pub table: LazyLock<Table>,
}

/// Room for a record's JSON, written out: most take less.
const RECORD_JSON_CAPACITY: usize = 512;

/// The three things that happen to a record, each an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// POST.
    Created,
    /// PATCH.
    Updated,
    /// DELETE.
    Deleted,
}

impl Resource {
    /// The scope a method needs.
    pub fn scope_for(&self, write: bool) -> Scope {
        let name = if write {
            self.write_scope
        } else {
            self.read_scope
        };
        Scope::parse(name).expect("catalog scopes are valid")
    }

    /// The event type for a change, e.g. `lead.created`.
    pub fn event_type(&self, change: Change) -> &'static str {
        self.events[change as usize]
    }

    /// Index of the `status` field.
    pub fn status_field(&self) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == "status")
    }

    /// A stored row as the API shows it, as JSON text: the answer to a write and its event's
    /// `data` are this one text.
    pub fn json<C: Columns>(&'static self, row: &C) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.view(row))
    }

    /// `json`'s text as bytes, for an answer body: written into room for a typical record
    /// (serde_json starts at 128 bytes and grows, and a lead is ~240).
    pub fn json_bytes<C: Columns>(&'static self, row: &C) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(RECORD_JSON_CAPACITY);
        serde_json::to_writer(&mut out, &self.view(row))?;
        Ok(out)
    }

    /// A serializable view of a stored row, in the public field order.
    pub fn view<'a, C: Columns>(&'static self, row: &'a C) -> RecordView<'a, C> {
        RecordView {
            resource: self,
            row,
        }
    }
}

/// A record as clients see it: `id`, `owner_id`, the fields, `created_at`, `updated_at`.
pub struct RecordView<'a, C = Row> {
    resource: &'static Resource,
    row: &'a C,
}

impl<C: Columns> Serialize for RecordView<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let stored = |e: rusqlite::Error| S::Error::custom(format!("stored record: {e}"));
        let (id, owner_id, created_at, updated_at) = self.row.common().map_err(stored)?;
        let mut map = s.serialize_map(Some(self.resource.fields.len() + 4))?;
        map.serialize_entry("id", &id)?;
        map.serialize_entry("owner_id", &owner_id)?;
        for (i, field) in self.resource.fields.iter().enumerate() {
            match (field.kind, self.row.field(i).map_err(stored)?) {
                (_, ValueRef::Null | ValueRef::Blob(_)) => map.serialize_entry(field.name, &())?,
                (FieldKind::Instant, ValueRef::Integer(ms)) => {
                    map.serialize_entry(field.name, &clock::Stamp(ms))?
                }
                (_, ValueRef::Integer(n)) => map.serialize_entry(field.name, &n)?,
                (_, ValueRef::Real(f)) => map.serialize_entry(field.name, &f)?,
                (_, ValueRef::Text(t)) => {
                    let t = std::str::from_utf8(t).map_err(S::Error::custom)?;
                    map.serialize_entry(field.name, t)?
                }
            }
        }
        map.serialize_entry("created_at", &clock::Stamp(created_at))?;
        map.serialize_entry("updated_at", &clock::Stamp(updated_at))?;
        map.end()
    }
}
