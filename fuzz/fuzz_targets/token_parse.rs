//! Any string through the token parser: no panic, and whatever it accepts is well formed.
//! The first two bytes also pick a one-character change to the contract's test vector,
//! which the checksum must catch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::auth::token::{self, PREFIX_LEN, SECRET_LEN, TOKEN_LEN};

/// The contract's test vector (see `auth::token` tests).
const VECTOR: &str = "sb_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M";

fuzz_target!(|data: &[u8]| {
    if let [pos, byte, ..] = data {
        let pos = usize::from(*pos) % TOKEN_LEN;
        let mut changed = VECTOR.as_bytes().to_vec();
        changed[pos] = *byte;
        if let Ok(s) = std::str::from_utf8(&changed) {
            assert_eq!(token::parse(s).is_some(), s == VECTOR, "{s}");
        }
    }

    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = token::looks_like_prefix(s);
    let Some(t) = token::parse(s) else {
        return;
    };
    assert_eq!(t.whole, s);
    assert_eq!(s.len(), TOKEN_LEN);
    assert_eq!(t.prefix.len(), PREFIX_LEN);
    assert!(token::looks_like_prefix(t.prefix));
    let secret = &s[3 + PREFIX_LEN + 1..];
    assert_eq!(secret.len(), SECRET_LEN);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    // Put back together from its parts, it is the same token and parses the same.
    let rebuilt = format!("sb_{}_{secret}", t.prefix);
    assert_eq!(rebuilt, s);
    let again = token::parse(&rebuilt).expect("re-parses");
    assert_eq!(again.prefix, t.prefix);
    assert_eq!(token::hash(&rebuilt), token::hash(s));
});
