//! The four resources through the one generic CRUD path.

mod crud;
mod lists;
mod writes;

use serde_json::Value;

use crate::helpers::TestApp;

/// The `name` of each record of a page, in order.
fn names(page: &Value) -> Vec<Value> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect()
}

fn count_pages(app: &TestApp, token: &str, first: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut path = first.to_owned();
    loop {
        let page = app.get(&path, token).json();
        ids.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{first}&cursor={c}"),
            None => return ids,
        }
    }
}
