//! How the senders are shared among endpoints, so that slow or failing ones cannot take them
//! all (CONTRACT.md: "a slow or dead endpoint does not hold up the others").
//!
//! An endpoint whose last attempt was answered 2xx is *trusted*: up to `per_endpoint`
//! attempts at once, so a burst to it still goes out four at a time, however long the
//! receiver takes to answer. Every other endpoint gets one attempt at a time: a *guarded* one
//! (its last attempt failed or timed out), and a *new* one (none of its attempts has ended in
//! this process yet; if the database says it has been failing, it starts guarded, so a
//! restart does not hand a dead endpoint four senders again). An attempt in flight longer than
//! `slow` is *hanging*: its endpoint counts as guarded until it ends, and a trusted endpoint
//! with a hanging attempt gets one more at a time beside it, not four, so that one stuck
//! request neither stalls the rest of its events nor takes more senders.
//!
//! In each lane:
//! - guarded endpoints together hold at most half of the senders, and guarded and new ones
//!   together three quarters;
//! - the attempts of trusted endpoints beyond one each (their bursts) hold at most half.
//!
//! So whatever the others do, a trusted endpoint finds a sender free for its next attempt
//! unless as many trusted endpoints as a quarter of the lane all hang at once; and a new
//! healthy endpoint finds one unless new and guarded ones together fill three quarters.
//!
//! Why. With four attempts at once for every endpoint, four endpoints that accepted
//! connections and never answered held all sixteen senders until the timeout, and twenty of
//! them put a timeout between each of a healthy endpoint's events. An attempt that hangs
//! cannot be taken back: the only defence is not to hand it the sender in the first place.
//! So more than one attempt at a time is earned by answers, and the endpoints not known to
//! answer share a bounded part of the pool, as do the bursts of those that do. A business with
//! a few endpoints never meets the shared bounds; for it the rule is "a failing endpoint gets
//! one attempt at a time". An integrator's fifty, a score of them down, keep at least half of
//! the senders for the others.
//!
//! Slow is a quarter of the attempt timeout: the operator's own measure of patience, well
//! above a receiver's usual answer (milliseconds), and reached early enough that an endpoint
//! that starts hanging is known for it long before its attempts time out. It is counted from
//! the moment a sender starts the attempt, not from the claim: an attempt queued behind
//! others in its lane is not a receiver's slowness.
//!
//! What it cannot do: tell endpoints apart before any attempt of theirs has ended. New
//! endpoints that hang all at once take three quarters of the senders for one timeout, and
//! a new healthy endpoint queued behind them waits that long.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::pool::Kind;
use crate::model::EndpointId;
use crate::store::deliveries::{Admission, Claimed};

/// An endpoint's standing at a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Its last attempt was answered 2xx, and none in flight has run longer than `slow`.
    Trusted,
    /// None of its attempts has ended in this process, and the database does not say it fails.
    New,
    /// Failing, or with an attempt hanging.
    Guarded,
}

/// What the senders know of one endpoint.
#[derive(Debug, Default)]
struct Endpoint {
    /// Whether its last finished attempt was answered 2xx; `None` until one finished.
    answered: Option<bool>,
    /// Its attempts in flight.
    flights: Vec<Flight>,
}

/// One attempt in flight.
#[derive(Debug)]
struct Flight {
    delivery: i64,
    lane: Kind,
    /// When its sender started it; `None` while it waits in its lane's queue, where it
    /// cannot hang.
    since: Option<Instant>,
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
            bursts: 0,
            guarded_cap: (size / 2).max(1),
            untrusted_cap: (size * 3 / 4).max(1),
            bursts_cap: size / 2,
        };
        for (&id, e) in self.lock().iter() {
            let hanging = e
                .flights
                .iter()
                .filter(|f| {
                    f.since
                        .is_some_and(|t| now.saturating_duration_since(t) > self.slow)
                })
                .count();
            let standing = match e.answered {
                _ if hanging > 0 => Some(Standing::Guarded),
                Some(true) => Some(Standing::Trusted),
                Some(false) => Some(Standing::Guarded),
                // New, unless the database says otherwise (see `Plan::room`).
                None => None,
            };
            let in_lane = e.flights.iter().filter(|f| f.lane == lane).count();
            match standing {
                Some(Standing::Trusted) => plan.bursts += in_lane.saturating_sub(1),
                Some(Standing::Guarded) => {
                    plan.guarded += in_lane;
                    plan.untrusted += in_lane;
                }
                Some(Standing::New) | None => plan.untrusted += in_lane,
            }
            let in_flight = e.flights.len();
            // A trusted endpoint with an attempt hanging: one more at a time beside those.
            let at_once = match (standing, e.answered) {
                (Some(Standing::Trusted), _) => plan.per_endpoint,
                (_, Some(true)) => 1 + hanging,
                _ => 1,
            };
            plan.known.insert(
                id,
                Known {
                    standing,
                    room: at_once.saturating_sub(in_flight),
                    in_lane,
                    hanging: hanging > 0,
                },
            );
        }
        plan
    }

    /// Notes the attempts a claim handed to `lane`. Forgets the endpoints the claim did not
    /// see (removed or disabled since) once none of their attempts is in flight.
    pub(super) fn started(&self, lane: Kind, batch: &[Claimed], plan: &Plan) {
        let mut endpoints = self.lock();
        for c in batch {
            endpoints
                .entry(c.endpoint_id)
                .or_default()
                .flights
                .push(Flight {
                    delivery: c.id,
                    lane,
                    since: None,
                });
        }
        endpoints.retain(|id, e| !e.flights.is_empty() || plan.decided.contains_key(id));
    }

    /// A sender starts the attempt at `delivery`: its time in flight counts from now.
    pub(super) fn begun(&self, endpoint: EndpointId, delivery: i64) {
        if let Some(f) = self
            .lock()
            .get_mut(&endpoint)
            .and_then(|e| e.flights.iter_mut().find(|f| f.delivery == delivery))
        {
            f.since = Some(Instant::now());
        }
    }

    /// Notes how an attempt at `endpoint` ended: answered 2xx or not.
    pub(super) fn judge(&self, endpoint: EndpointId, succeeded: bool) {
        self.lock().entry(endpoint).or_default().answered = Some(succeeded);
    }

    /// An attempt at `delivery` is over, however it ended.
    pub(super) fn done(&self, endpoint: EndpointId, delivery: i64) {
        if let Some(e) = self.lock().get_mut(&endpoint)
            && let Some(i) = e.flights.iter().position(|f| f.delivery == delivery)
        {
            // One flight: the same delivery could be in flight twice (a lease that ran out).
            e.flights.swap_remove(i);
        }
    }
}

/// Endpoints held to one attempt at a time, by why, as the last claim found them (for the
/// metrics): an operator with many endpoints sees how much of the pool the bad ones hold.
#[derive(Debug, Default)]
pub struct Held {
    /// Their last attempt failed.
    pub failing: AtomicU64,
    /// An attempt has run longer than a quarter of the timeout.
    pub hanging: AtomicU64,
    /// Attempts in flight, none ended yet in this process.
    pub new: AtomicU64,
}

impl Plan {
    /// Stores, in `held`, the endpoints this plan holds to one attempt at a time.
    pub(super) fn count_held(&self, held: &Held) {
        let (mut failing, mut hanging, mut new) = (0, 0, 0);
        for k in self.known.values() {
            match (k.standing, k.hanging) {
                (Some(Standing::Guarded), true) => hanging += 1,
                (Some(Standing::Guarded), false) => failing += 1,
                (None | Some(Standing::New), _) => new += 1,
                (Some(Standing::Trusted), _) => {}
            }
        }
        held.failing.store(failing, Ordering::Relaxed);
        held.hanging.store(hanging, Ordering::Relaxed);
        held.new.store(new, Ordering::Relaxed);
    }
}

/// What was known of an endpoint when a claim was planned.
#[derive(Debug)]
struct Known {
    /// `None`: new, unless the database says it is failing.
    standing: Option<Standing>,
    /// Attempts it may be given beside those in flight (in both lanes).
    room: usize,
    /// Its attempts in flight in the claim's lane, and those the claim gave it.
    in_lane: usize,
    /// Whether one of its attempts has run longer than `slow`.
    hanging: bool,
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
    /// Attempts of trusted endpoints in the lane beyond one each.
    bursts: usize,
    guarded_cap: usize,
    untrusted_cap: usize,
    bursts_cap: usize,
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
        known.map_or(1, |k| k.room)
    }

    fn admit(&mut self, endpoint: EndpointId) -> bool {
        let standing = self
            .decided
            .get(&endpoint)
            .copied()
            .unwrap_or(Standing::Guarded);
        let in_lane = self.known.get(&endpoint).map_or(0, |k| k.in_lane);
        let untrusted_room = self.untrusted < self.untrusted_cap;
        let admitted = match standing {
            // Its first attempt in the lane always; more only within the bursts' share.
            Standing::Trusted => in_lane == 0 || self.bursts < self.bursts_cap,
            Standing::New => untrusted_room,
            Standing::Guarded => untrusted_room && self.guarded < self.guarded_cap,
        };
        if !admitted {
            return false;
        }
        match standing {
            Standing::Trusted if in_lane > 0 => self.bursts += 1,
            Standing::Trusted => {}
            Standing::New => self.untrusted += 1,
            Standing::Guarded => {
                self.untrusted += 1;
                self.guarded += 1;
            }
        }
        self.known
            .entry(endpoint)
            .or_insert(Known {
                standing: Some(standing),
                room: 0,
                in_lane: 0,
                hanging: false,
            })
            .in_lane += 1;
        true
    }
}

#[cfg(test)]
mod tests;
