//! Record-shaped bodies built from `arbitrary` input: mostly the resource's own field names,
//! with values shaped like what the fields take (instants, dates, emails, enum words), so
//! that validation gets past the first refusal more often than with raw bytes.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value as Json, json};
use switchboard::resources::{FieldKind, RESOURCES};

#[derive(Arbitrary, Debug)]
struct Input {
    resource: u8,
    fields: Vec<(Key, Val)>,
}

#[derive(Arbitrary, Debug)]
enum Key {
    /// One of the resource's fields, by index.
    Known(u8),
    /// Any other name.
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// A word the field might take: one of its enum values, or a currency-ish code.
    Word(u8),
    Instant {
        year: Year,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        frac: Option<u32>,
        /// `None` for `Z`, else (negative, hours, minutes).
        offset: Option<(bool, u8, u8)>,
    },
    Date {
        year: Year,
        month: u8,
        day: u8,
    },
    Email {
        local: String,
        domain: String,
    },
    Array(Vec<Val>),
}

/// A year; the two ends of what RFC 3339 allows get a variant each, so they come up often.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Year {
    First,
    Last,
    Any(u16),
}

impl Year {
    fn get(self) -> u16 {
        match self {
            Year::First => 0,
            Year::Last => 9999,
            Year::Any(y) => y % 10_001,
        }
    }
}

impl Val {
    fn to_json(&self, kind: Option<FieldKind>) -> Json {
        match self {
            Val::Null => Json::Null,
            Val::Bool(b) => json!(b),
            Val::Int(n) => json!(n),
            Val::Float(f) => json!(f),
            Val::Text(s) => json!(s),
            Val::Word(n) => match kind {
                Some(FieldKind::Enum(words)) => json!(words[usize::from(*n) % words.len()]),
                _ => json!(["EUR", "USD", "eur", "EU", "EURO"][usize::from(*n) % 5]),
            },
            Val::Instant {
                year,
                month,
                day,
                hour,
                minute,
                second,
                frac,
                offset,
            } => {
                let frac = frac.map_or(String::new(), |f| format!(".{f}"));
                let offset = match offset {
                    None => "Z".to_owned(),
                    Some((neg, h, m)) => {
                        let sign = if *neg { '-' } else { '+' };
                        format!("{sign}{:02}:{:02}", h % 25, m % 61)
                    }
                };
                json!(format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}{offset}",
                    year.get(),
                    month % 14,
                    day % 33,
                    hour % 25,
                    minute % 61,
                    second % 62
                ))
            }
            Val::Date { year, month, day } => json!(format!(
                "{:04}-{:02}-{:02}",
                year.get(),
                month % 14,
                day % 33
            )),
            Val::Email { local, domain } => json!(format!("{local}@{domain}")),
            Val::Array(items) => Json::Array(items.iter().map(|v| v.to_json(None)).collect()),
        }
    }
}

fuzz_target!(|input: Input| {
    let res = RESOURCES[usize::from(input.resource) % RESOURCES.len()];
    let mut obj = Map::new();
    for (key, val) in &input.fields {
        let (name, kind) = match key {
            Key::Known(i) => {
                let f = &res.fields[usize::from(*i) % res.fields.len()];
                (f.name.to_owned(), Some(f.kind))
            }
            Key::Other(s) => (s.clone(), None),
        };
        obj.insert(name, val.to_json(kind));
    }
    let body = Json::Object(obj);
    switchboard_fuzz::check_resource(res, &body);
    // The same body as bytes, through the byte-level path, must not panic either.
    let bytes = serde_json::to_vec(&body).expect("serializes");
    if let Some(parsed) = switchboard_fuzz::read_body(&bytes) {
        switchboard_fuzz::check_body(&parsed);
    }
});
