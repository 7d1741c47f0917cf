//! How the senders are shared among endpoints, so that slow or failing ones cannot take them
//! all (CONTRACT.md: "a slow or dead endpoint does not hold up the others").
//!
//! An endpoint that answers promptly is *trusted*: up to `per_endpoint` attempts at once, so a
//! burst to it still goes out four at a time. Every other endpoint gets one attempt at a time:
//! a *guarded* one (its last attempt failed, timed out or took longer than `slow`, or one in
//! flight has already run longer than that), and a *new* one (none of its attempts has ended
//! in this process yet; if the database says it has been failing, it starts guarded, so a
//! restart does not hand a dead endpoint four senders again). In each lane, guarded endpoints
//! together hold at most half of the senders, and guarded and new ones together three
//! quarters. Whatever the others do, trusted endpoints find a quarter of the senders free,
//! and they and new ones half. One prompt answer makes an endpoint trusted again.
//!
//! Why. With four attempts at once for every endpoint, four endpoints that accepted
//! connections and never answered held all sixteen senders until the timeout, and twenty of
//! them put a timeout between each of a healthy endpoint's events. An attempt that hangs
//! cannot be taken back: the only defence is not to hand it the sender in the first place.
//! So more than one attempt at a time is earned by prompt answers, and the endpoints not
//! known to answer promptly share a bounded part of the pool. A business with a few
//! endpoints never meets the shared bounds (each untrusted endpoint holds one sender); for
//! it the rule is "a slow or failing endpoint gets one attempt at a time". An integrator's
//! fifty, a score of them down, keep at least half of the senders for the others.
//!
//! Slow is a quarter of the attempt timeout: the operator's own measure of patience, well
//! above a receiver's usual answer (milliseconds), and reached early enough that an endpoint
//! that starts hanging is known for it long before its attempts time out.
//!
//! What it cannot do: tell endpoints apart before any attempt of theirs has ended. New
//! endpoints that hang all at once take three quarters of the senders for one timeout, and
//! a new healthy endpoint queued behind them waits that long. And an endpoint trusted until
//! the moment it hangs keeps the attempts it already had in flight (up to `per_endpoint`)
//! until they time out; it gets no more.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::pool::Kind;
use crate::model::EndpointId;
use crate::store::deliveries::{Admission, Claimed};

/// An endpoint's standing at a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Its last attempt was a 2xx within `slow`, and none in flight has run longer.
    Trusted,
    /// None of its attempts has ended in this process, and the database does not say it fails.
    New,
    /// Slow or failing.
    Guarded,
}

/// What the senders know of one endpoint.
#[derive(Debug, Default)]
struct Endpoint {
    /// Whether its last finished attempt was prompt (a 2xx within `slow`); `None` until one
    /// finished.
    prompt: Option<bool>,
    /// Its attempts in flight.
    flights: Vec<Flight>,
}

/// One attempt in flight.
#[derive(Debug)]
struct Flight {
    delivery: i64,
    lane: Kind,
    since: Instant,
}

/// The endpoints' standing and their attempts in flight, across both lanes: the worker plans
/// its claims with it, the senders tell it how their attempts ended.
#[derive(Debug)]
pub(super) struct Allocation {
    slow: Duration,
    endpoints: Mutex<HashMap<EndpointId, Endpoint>>,
}

impl Allocation {
    /// For attempts that time out after `timeout`.
    pub(super) fn new(timeout: Duration) -> Allocation {
        Allocation {
            slow: timeout / 4,
            endpoints: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<EndpointId, Endpoint>> {
        self.endpoints.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What a claim for `lane`, of `size` senders, may take: a trusted endpoint up to
    /// `per_endpoint` attempts at once.
    pub(super) fn plan(&self, lane: Kind, size: usize, per_endpoint: usize) -> Plan {
        self.plan_at(Instant::now(), lane, size, per_endpoint)
    }

    /// `plan`, at `now`.
    fn plan_at(&self, now: Instant, lane: Kind, size: usize, per_endpoint: usize) -> Plan {
        let mut plan = Plan {
            per_endpoint: per_endpoint.max(1),
            known: HashMap::new(),
            decided: HashMap::new(),
            guarded: 0,
            untrusted: 0,
            guarded_cap: (size / 2).max(1),
            untrusted_cap: (size * 3 / 4).max(1),
        };
        for (&id, e) in self.lock().iter() {
            let hanging = e
                .flights
                .iter()
                .any(|f| now.saturating_duration_since(f.since) > self.slow);
            let standing = match e.prompt {
                _ if hanging => Some(Standing::Guarded),
                Some(true) => Some(Standing::Trusted),
                Some(false) => Some(Standing::Guarded),
                // New, unless the database says otherwise (see `Plan::room`).
                None => None,
            };
            let in_lane = e.flights.iter().filter(|f| f.lane == lane).count();
            match standing {
                Some(Standing::Trusted) => {}
                Some(Standing::Guarded) => {
                    plan.guarded += in_lane;
                    plan.untrusted += in_lane;
                }
                Some(Standing::New) | None => plan.untrusted += in_lane,
            }
            let in_flight = e.flights.len();
            plan.known.insert(
                id,
                Known {
                    standing,
                    in_flight,
                    in_lane,
                },
            );
        }
        plan
    }

    /// Notes the attempts a claim handed to `lane`. Forgets the endpoints the claim did not
    /// see (removed or disabled since) once none of their attempts is in flight.
    pub(super) fn started(&self, lane: Kind, batch: &[Claimed], plan: &Plan) {
        let since = Instant::now();
        let mut endpoints = self.lock();
        for c in batch {
            endpoints
                .entry(c.endpoint_id)
                .or_default()
                .flights
                .push(Flight {
                    delivery: c.id,
                    lane,
                    since,
                });
        }
        endpoints.retain(|id, e| !e.flights.is_empty() || plan.decided.contains_key(id));
    }

    /// Notes how an attempt at `endpoint` ended: answered 2xx or not, after `took`.
    pub(super) fn judge(&self, endpoint: EndpointId, succeeded: bool, took: Duration) {
        let prompt = succeeded && took <= self.slow;
        self.lock().entry(endpoint).or_default().prompt = Some(prompt);
    }

    /// An attempt at `delivery` is over, however it ended.
    pub(super) fn done(&self, endpoint: EndpointId, delivery: i64) {
        if let Some(e) = self.lock().get_mut(&endpoint) {
            e.flights.retain(|f| f.delivery != delivery);
        }
    }
}

/// What was known of an endpoint when a claim was planned.
#[derive(Debug)]
struct Known {
    /// `None`: new, unless the database says it is failing.
    standing: Option<Standing>,
    /// Its attempts in flight, in both lanes.
    in_flight: usize,
    /// Those in the claim's lane.
    in_lane: usize,
}

/// One claim's allowances: the store asks it about each endpoint and delivery.
#[derive(Debug)]
pub(super) struct Plan {
    per_endpoint: usize,
    known: HashMap<EndpointId, Known>,
    /// The standing of each endpoint the claim asked about.
    decided: HashMap<EndpointId, Standing>,
    /// Attempts to guarded endpoints in the lane: in flight, then taken by the claim too.
    guarded: usize,
    /// The same for guarded and new endpoints.
    untrusted: usize,
    guarded_cap: usize,
    untrusted_cap: usize,
}

impl Admission for Plan {
    fn room(&mut self, endpoint: EndpointId, failing: bool) -> usize {
        let known = self.known.get(&endpoint);
        let standing = match known.and_then(|k| k.standing) {
            Some(s) => s,
            None if failing => {
                // Counted as new when planned: its attempts in flight are guarded ones.
                self.guarded += known.map_or(0, |k| k.in_lane);
                Standing::Guarded
            }
            None => Standing::New,
        };
        self.decided.insert(endpoint, standing);
        let at_once = match standing {
            Standing::Trusted => self.per_endpoint,
            Standing::New | Standing::Guarded => 1,
        };
        at_once.saturating_sub(known.map_or(0, |k| k.in_flight))
    }

    fn admit(&mut self, endpoint: EndpointId) -> bool {
        let standing = self.decided.get(&endpoint).copied();
        let untrusted_room = self.untrusted < self.untrusted_cap;
        let admitted = match standing.unwrap_or(Standing::Guarded) {
            Standing::Trusted => return true,
            Standing::New => untrusted_room,
            Standing::Guarded => untrusted_room && self.guarded < self.guarded_cap,
        };
        if admitted {
            self.untrusted += 1;
            if standing != Some(Standing::New) {
                self.guarded += 1;
            }
        }
        admitted
    }
}

#[cfg(test)]
mod tests;
