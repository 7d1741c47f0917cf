//! API2: tokens that must not work do not: expired, revoked, rotated, tampered, spliced.

use std::time::Duration;

use switchboard::manage::tokens::{self, Expiry};
use switchboard::model::Role;

use crate::helpers::{ALL_SCOPES, eventually, spawn_app};

/// Recomputes the checksum of `sb_<prefix>_<42 chars>` the way the contract defines it.
fn with_valid_checksum(body: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = crc32fast::hash(body.as_bytes());
    let mut sum = [b'0'; 6];
    for d in sum.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", String::from_utf8_lossy(&sum))
}

#[test]
fn expired_revoked_and_rotated_tokens_are_refused() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    let expired = app.token_with("a@example.com", &ALL_SCOPES, |i| {
        i.expiry = Expiry::In(Duration::from_secs(1))
    });
    let revoked = app.token_for("a@example.com", &ALL_SCOPES);
    let rotated = app.token_for("a@example.com", &ALL_SCOPES);
    app.manage(|c| tokens::revoke(c, &revoked[3..11], "manual"));
    app.manage(|c| tokens::rotate(c, &rotated[3..11], None));
    assert!(eventually(Duration::from_secs(5), || app
        .get("/api/v1/leads", &expired)
        .code()
        == "token_expired"));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/leads", &revoked)
        .code()
        == "invalid_token"));
    assert!(eventually(Duration::from_secs(2), || app
        .get("/api/v1/leads", &rotated)
        .code()
        == "invalid_token"));
}

#[test]
fn a_tampered_or_spliced_token_is_refused_even_with_a_valid_checksum() {
    let app = spawn_app();
    app.add_user("a@example.com", Role::Admin);
    app.add_account_with_admin("other", "b@other.example");
    let mine = app.token_for("a@example.com", &ALL_SCOPES);
    let theirs = app.token_for("b@other.example", &ALL_SCOPES);
    // Their prefix with my secret, checksum recomputed: well-formed, but no such token.
    let spliced = with_valid_checksum(&format!("sb_{}_{}", &theirs[3..11], &mine[12..54]));
    assert!(
        switchboard::auth::token::parse(&spliced).is_some(),
        "the checksum is public"
    );
    assert_eq!(app.get("/api/v1/leads", &spliced).code(), "invalid_token");
    // One changed character of the secret, checksum recomputed.
    let mut secret = mine[12..54].to_owned();
    let flipped = if secret.starts_with('a') { "b" } else { "a" };
    secret.replace_range(0..1, flipped);
    let tampered = with_valid_checksum(&format!("sb_{}_{secret}", &mine[3..11]));
    assert_eq!(app.get("/api/v1/leads", &tampered).code(), "invalid_token");
    // A wrong checksum is refused before any lookup.
    let bad_sum = format!(
        "{}{}",
        &mine[..54],
        if mine.ends_with('0') {
            "111111"
        } else {
            "000000"
        }
    );
    assert_eq!(app.get("/api/v1/leads", &bad_sum).code(), "invalid_token");
    assert_eq!(app.get("/api/v1/leads", &mine).status, 200);
}
