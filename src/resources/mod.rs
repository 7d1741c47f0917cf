//! The four resources, each described once: fields, rules, statuses, scopes and events.
//! One generic validator and serializer serve them all. No I/O here.

mod catalog;
mod json;
mod parse;
mod validate;

use std::sync::LazyLock;

pub use catalog::{APPOINTMENTS, INVOICES, JOBS, LEADS, RESOURCES};
pub use validate::FieldError;

use crate::auth::scope::Scope;
use crate::store::records::{Columns, Table};

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
        let mut out = String::with_capacity(RECORD_JSON_CAPACITY);
        self.write_json(row, &mut out)?;
        Ok(out)
    }

    /// `json`'s text as bytes, for an answer body.
    pub fn json_bytes<C: Columns>(&'static self, row: &C) -> Result<Vec<u8>, serde_json::Error> {
        self.json(row).map(String::into_bytes)
    }

    /// Appends `json`'s text to `out` (a page's records, one after another).
    pub fn write_json<C: Columns>(
        &'static self,
        row: &C,
        out: &mut String,
    ) -> Result<(), serde_json::Error> {
        json::write_record(self, row, out)
    }
}
