//! The four resources, described once.

use std::sync::LazyLock;

use super::FieldKind::{Currency, Date, Email, Enum, Instant, Integer, Phone, Reference, Text};
use super::{Field, Resource};
use crate::store::records::Table;

const fn field(name: &'static str, kind: super::FieldKind) -> Field {
    Field {
        name,
        kind,
        required: false,
        default: None,
    }
}

const fn required(name: &'static str, kind: super::FieldKind) -> Field {
    Field {
        name,
        kind,
        required: true,
        default: None,
    }
}

const fn status(values: &'static [&'static str]) -> Field {
    Field {
        name: "status",
        kind: Enum(values),
        required: false,
        default: Some(values[0]),
    }
}

const CENTS: super::FieldKind = Integer {
    min: 0,
    max: 1_000_000_000_000,
};

fn table(name: &'static str, fields: &'static [Field]) -> Table {
    Table::new(name, fields.iter().map(|f| f.name).collect())
}

/// Leads: people who might become customers.
pub static LEADS: Resource = Resource {
    plural: "leads",
    singular: "lead",
    events: ["lead.created", "lead.updated", "lead.deleted"],
    fields: &[
        required("name", Text { max: 200 }),
        field("email", Email),
        field("phone", Phone),
        field("source", Text { max: 100 }),
        status(&["new", "contacted", "quoted", "won", "lost"]),
        field("notes", Text { max: 10_000 }),
    ],
    read_scope: "leads:read",
    write_scope: "leads:write",
    table: LazyLock::new(|| table("leads", LEADS.fields)),
};

/// Jobs: work to be done, perhaps for a lead.
pub static JOBS: Resource = Resource {
    plural: "jobs",
    singular: "job",
    events: ["job.created", "job.updated", "job.deleted"],
    fields: &[
        required("title", Text { max: 200 }),
        field("lead_id", Reference(&LEADS)),
        status(&["scheduled", "in_progress", "done", "canceled"]),
        field("scheduled_for", Instant),
        field("address", Text { max: 500 }),
        field("amount_cents", CENTS),
    ],
    read_scope: "jobs:read",
    write_scope: "jobs:write",
    table: LazyLock::new(|| table("jobs", JOBS.fields)),
};

/// Invoices: money asked for a job.
pub static INVOICES: Resource = Resource {
    plural: "invoices",
    singular: "invoice",
    events: ["invoice.created", "invoice.updated", "invoice.deleted"],
    fields: &[
        field("number", Text { max: 50 }),
        field("job_id", Reference(&JOBS)),
        status(&["draft", "sent", "paid", "void"]),
        field("currency", Currency),
        required("total_cents", CENTS),
        field("due_date", Date),
    ],
    read_scope: "invoices:read",
    write_scope: "invoices:write",
    table: LazyLock::new(|| table("invoices", INVOICES.fields)),
};

/// Appointments: a time booked with a lead.
pub static APPOINTMENTS: Resource = Resource {
    plural: "appointments",
    singular: "appointment",
    events: [
        "appointment.created",
        "appointment.updated",
        "appointment.deleted",
    ],
    fields: &[
        required("starts_at", Instant),
        field("ends_at", Instant),
        field("lead_id", Reference(&LEADS)),
        field("location", Text { max: 500 }),
        status(&["booked", "done", "canceled", "no_show"]),
        field("notes", Text { max: 10_000 }),
    ],
    read_scope: "appointments:read",
    write_scope: "appointments:write",
    table: LazyLock::new(|| table("appointments", APPOINTMENTS.fields)),
};

/// All four, in path order.
pub static RESOURCES: [&Resource; 4] = [&LEADS, &JOBS, &INVOICES, &APPOINTMENTS];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Change;

    /// Each resource's event types are its singular name and the change, in `Change`'s order.
    #[test]
    fn event_types_name_the_resource_and_the_change() {
        for r in RESOURCES {
            for (change, verb) in [
                (Change::Created, "created"),
                (Change::Updated, "updated"),
                (Change::Deleted, "deleted"),
            ] {
                assert_eq!(r.event_type(change), format!("{}.{verb}", r.singular));
            }
        }
    }
}
