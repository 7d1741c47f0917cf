//! `GET /healthz` (the process answers) and `GET /readyz` (the database is usable, its schema
//! is the one this binary expects, and the background threads are alive).

use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::store::{self, Store, ops as store_ops};

/// Which named background threads are running. A thread holds an [`AliveGuard`] for its whole
/// life; the guard's drop (a return or a panic unwinding) marks it gone.
#[derive(Debug, Default, Clone)]
pub struct Liveness {
    threads: Arc<Mutex<Vec<(String, bool)>>>,
}

/// Held by a running background thread; see [`Liveness`].
#[derive(Debug)]
pub struct AliveGuard {
    threads: Arc<Mutex<Vec<(String, bool)>>>,
    index: usize,
}

impl Liveness {
    /// Marks `name` alive until the returned guard is dropped.
    pub fn register(&self, name: &str) -> AliveGuard {
        let mut t = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        t.push((name.to_owned(), true));
        AliveGuard {
            threads: self.threads.clone(),
            index: t.len() - 1,
        }
    }

    /// Names of registered threads that have ended.
    pub fn dead(&self) -> Vec<String> {
        let t = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        t.iter()
            .filter(|(_, alive)| !alive)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

impl Drop for AliveGuard {
    fn drop(&mut self) {
        let mut t = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = t.get_mut(self.index) {
            entry.1 = false;
        }
    }
}

/// Registers the health routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api::get_or_head("/healthz", healthz))
        .service(crate::api::get_or_head("/readyz", readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(store: web::Data<Store>, liveness: Option<web::Data<Liveness>>) -> HttpResponse {
    let reader = store.clone().into_inner();
    let version = web::block(move || reader.read(store_ops::schema_version)).await;
    let mut problems = Vec::new();
    match version {
        Ok(Ok(Some(v))) if v == *store::SCHEMA_VERSION => {}
        Ok(Ok(v)) => problems.push(format!(
            "the schema is at version {}, this binary expects {}",
            v.unwrap_or(0),
            *store::SCHEMA_VERSION
        )),
        _ => problems.push("the database cannot be read".to_owned()),
    }
    if !store.writer_alive() {
        problems.push("the database writer has stopped".to_owned());
    }
    if let Some(l) = liveness {
        for name in l.dead() {
            problems.push(format!("the {name} thread has stopped"));
        }
    }
    if problems.is_empty() {
        HttpResponse::Ok()
            .json(json!({ "status": "ready", "schema_version": *store::SCHEMA_VERSION }))
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("application/problem+json")
            .body(json!({ "type": "urn:switchboard:problem:not_ready", "title": "Not ready", "status": 503,
                          "detail": problems.join("; "), "code": "not_ready" }).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_panics_is_reported_dead() {
        let l = Liveness::default();
        let g = l.register("steady");
        let l2 = l.clone();
        let _ = std::thread::spawn(move || {
            let _g = l2.register("fragile");
            panic!("boom");
        })
        .join();
        assert_eq!(l.dead(), ["fragile"]);
        drop(g);
        assert_eq!(l.dead(), ["steady", "fragile"]);
    }
}
