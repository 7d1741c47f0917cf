//! Micro-benchmark of the auth hot path: parse (shape + CRC32 checksum) -> SHA-256 -> moka
//! lookup that hits. Target (issue 7): under 2 µs per call.
//!
//! A plain timed loop: a warm-up, then several runs of many iterations each; prints the
//! median ns/op of the runs (and the fastest and slowest run). No criterion.
//!
//! `AuthState`'s cache lookup is not public (`AuthState::cached` is `pub(super)`), so the
//! cache step uses a `moka::sync::Cache<TokenHash, Arc<CachedToken>>` built exactly as
//! `AuthState::new` builds its token cache (same key, value, capacity and TTL), filled with
//! real `CachedToken`s. A server worker looks in a look-aside of its own first
//! (`auth::recent`, private too) and reaches moka about once a second per token: the
//! figures here are the path through moka, the slower of the two.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use switchboard::auth::CachedToken;
use switchboard::auth::allow_list;
use switchboard::auth::rate_limit::{Limit, RateLimiter, policy_header};
use switchboard::auth::scope::ScopeSet;
use switchboard::auth::token::{self, TokenHash};
use switchboard::clock;
use switchboard::model::{self, AccountId, Plan, Role, SubscriptionStatus, TokenId, UserId};

/// Distinct tokens the loop rotates through (the HTTP benchmark uses 100 too).
const TOKENS: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cached_token(
    i: usize,
    prefix: &str,
    limits: &Arc<[Limit]>,
    limiter: &RateLimiter<TokenId>,
) -> CachedToken {
    let id = TokenId(i as i64 + 1);
    CachedToken {
        rate: limiter.bucket(&id, limits),
        id,
        prefix: prefix.to_owned(),
        name: format!("bench-{i}"),
        scopes: ScopeSet::ALL,
        allow_ips: Vec::new(),
        limits: limits.clone(),
        policy_header: policy_header(limits),
        default_limits: true,
        expires_at: None,
        revoked_at: None,
        grace_until: None,
        user_id: UserId(i as i64 + 1),
        user_email: format!("agent{i}@bench.invalid"),
        role: Role::Agent,
        permissions: ScopeSet::ALL,
        user_disabled: false,
        account_id: AccountId(1),
        account_name: "default".into(),
        plan: Plan::Pro,
        status: SubscriptionStatus::Active,
        account_allow_ips: Vec::new(),
    }
}

/// Runs `op(i)` for `iters` iterations per run, `runs` times after a warm-up; returns ns/op
/// of every run, sorted.
fn measure(iters: usize, runs: usize, mut op: impl FnMut(usize) -> u64) -> Vec<f64> {
    let warm_until = Instant::now() + Duration::from_millis(200);
    let mut i = 0usize;
    let mut sink = 0u64;
    while Instant::now() < warm_until {
        for _ in 0..1_000 {
            sink = sink.wrapping_add(op(i));
            i = i.wrapping_add(1);
        }
    }
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..iters {
            sink = sink.wrapping_add(op(i));
            i = i.wrapping_add(1);
        }
        out.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    black_box(sink);
    out.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    out
}

fn report(name: &str, what: &str, runs: &[f64]) {
    let median = runs[runs.len() / 2];
    println!(
        "{name:<14} {median:>8.1} ns/op  (runs: fastest {:.1}, slowest {:.1})  {what}",
        runs[0],
        runs[runs.len() - 1]
    );
    // One machine-readable line per case for bench/run.sh.
    println!("RESULT {name} {median:.1}");
}

fn main() {
    let iters = env_usize("AUTHPATH_ITERS", 200_000);
    let runs = env_usize("AUTHPATH_RUNS", 15);
    println!("auth hot path: {TOKENS} tokens, {iters} iterations x {runs} runs, median ns/op");

    let tokens: Vec<token::NewToken> = (0..TOKENS).map(|_| token::generate()).collect();
    let plaintexts: Vec<String> = tokens.iter().map(|t| t.plaintext.clone()).collect();
    let limits: Arc<[Limit]> = Limit::parse_list(&["1000000/1s"]).expect("limit").into();

    // The same shape as `AuthState`'s token cache.
    let cache: Cache<TokenHash, Arc<CachedToken>> = Cache::builder()
        .max_capacity(50_000)
        .time_to_live(Duration::from_secs(300))
        .build();
    let limiter: RateLimiter<TokenId> = RateLimiter::new(50_000, Duration::from_secs(3_600));
    // The failed-authentication limiter, as `AuthState` holds it: a good caller's address is
    // looked up in it, and not found.
    let failed: RateLimiter<IpAddr> = RateLimiter::new(100_000, Duration::from_secs(3_600));
    for (i, t) in tokens.iter().enumerate() {
        let entry = cached_token(i, &t.prefix, &limits, &limiter);
        cache.insert(t.hash, Arc::new(entry));
    }
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let pick = |i: usize| plaintexts[i % TOKENS].as_str();

    let parse = measure(iters, runs, |i| {
        let p = token::parse(black_box(pick(i))).expect("valid");
        p.prefix.len() as u64
    });
    report("parse", "shape + CRC32 checksum", &parse);

    let hash = measure(iters, runs, |i| token::hash(black_box(pick(i)))[0] as u64);
    report("sha256", "SHA-256 of the 60-byte token", &hash);

    let hashes: Vec<TokenHash> = tokens.iter().map(|t| t.hash).collect();
    let hit = measure(iters, runs, |i| {
        let e = cache.get(black_box(&hashes[i % TOKENS])).expect("warm");
        e.id.0 as u64
    });
    report("cache_hit", "moka::sync::Cache get (hit)", &hit);

    let full = measure(iters, runs, |i| {
        let p = token::parse(black_box(pick(i))).expect("valid");
        let h = token::hash(p.whole);
        let e = cache.get(&h).expect("warm");
        e.id.0 as u64
    });
    report(
        "authpath",
        "parse + checksum + SHA-256 + cache hit (target < 2000 ns)",
        &full,
    );

    let guard = measure(iters, runs, |i| {
        if failed.blocked(black_box(&ip)).is_some() {
            return 0;
        }
        let p = token::parse(black_box(pick(i))).expect("valid");
        let h = token::hash(p.whole);
        let e = cache.get(&h).expect("warm");
        let now = clock::now_ms();
        let live = e.revoked_at.is_none_or(|t| t > now)
            && e.grace_until.is_none_or(|t| t > now)
            && !e.user_disabled
            && e.expires_at.is_none_or(|t| t > now);
        let ok = live
            && allow_list::permits(&e.allow_ips, ip)
            && allow_list::permits(&e.account_allow_ips, ip)
            && model::api_access(e.plan, e.status).is_ok();
        let verdict = limiter.check_bucket(&e.rate, &e.limits);
        (ok && verdict.allowed) as u64
    });
    report(
        "guard",
        "failed-address look-up + authpath + expiry/revocation + allow-lists + account gate + rate limiter",
        &guard,
    );
}
