//! The token format: `sb_<prefix>_<secret>`, with an offline checksum so that typos and
//! random strings are refused before any lookup. Pure functions, no I/O.

use sha2::{Digest, Sha256};

use super::random::{self, BASE62};

/// Length of the public prefix (shown in lists, used to name a token).
pub const PREFIX_LEN: usize = 8;
/// Length of the secret, checksum included.
pub const SECRET_LEN: usize = 48;
const CHECKSUM_LEN: usize = 6;
const RANDOM_LEN: usize = SECRET_LEN - CHECKSUM_LEN;
/// Total length of a token: `sb_` + prefix + `_` + secret.
pub const TOKEN_LEN: usize = 3 + PREFIX_LEN + 1 + SECRET_LEN;

/// SHA-256 of the whole token: the only form in which a token is stored.
pub type TokenHash = [u8; 32];

/// A freshly generated token. The plaintext leaves the process once, in the create answer.
pub struct NewToken {
    /// The whole token, `sb_…`.
    pub plaintext: String,
    /// Its public prefix.
    pub prefix: String,
    /// SHA-256 of `plaintext`.
    pub hash: TokenHash,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A token that passed the offline checks (shape and checksum).
#[derive(Clone, Copy)]
pub struct ParsedToken<'a> {
    /// The public prefix.
    pub prefix: &'a str,
    /// The whole token.
    pub whole: &'a str,
}

/// Generates a new token from the OS CSPRNG.
pub fn generate() -> NewToken {
    let prefix = random::base62(PREFIX_LEN);
    let body = format!("sb_{prefix}_{}", random::base62(RANDOM_LEN));
    let mut plaintext = body;
    let sum = checksum(&plaintext);
    plaintext.extend(sum.iter().map(|&b| char::from(b)));
    NewToken {
        hash: hash(&plaintext),
        prefix,
        plaintext,
    }
}

/// Checks shape and checksum; `None` for anything that cannot be a token of ours.
pub fn parse(s: &str) -> Option<ParsedToken<'_>> {
    if s.len() != TOKEN_LEN || !s.is_ascii() {
        return None;
    }
    let rest = s.strip_prefix("sb_")?;
    let (prefix, secret) = rest.split_at(PREFIX_LEN);
    let secret = secret.strip_prefix('_')?;
    let all_base62 = |p: &str| p.bytes().all(|b| b.is_ascii_alphanumeric());
    if !all_base62(prefix) || !all_base62(secret) {
        return None;
    }
    let (body, sum) = s.split_at(TOKEN_LEN - CHECKSUM_LEN);
    (checksum(body) == sum.as_bytes()).then_some(ParsedToken { prefix, whole: s })
}

/// SHA-256 of the whole token.
pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// CRC32 (IEEE) of `body`, in base62, zero-padded to six characters (ASCII). Every call
/// checks one, so it is compared as bytes, not made a `String`.
fn checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    digits
}

/// True when `s` has the shape of a prefix (8 base62 characters): lets commands accept
/// either a numeric id or a prefix.
pub fn looks_like_prefix(s: &str) -> bool {
    s.len() == PREFIX_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "sb_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M";

    #[test]
    fn the_contract_test_vector_is_valid() {
        let t = parse(VECTOR).expect("valid");
        assert_eq!(t.prefix, "AbCd1234");
    }

    #[test]
    fn generated_tokens_round_trip_their_checksum() {
        for _ in 0..200 {
            let t = generate();
            assert_eq!(t.plaintext.len(), TOKEN_LEN);
            let p = parse(&t.plaintext).expect("generated token parses");
            assert_eq!(p.prefix, t.prefix);
            assert_eq!(hash(&t.plaintext), t.hash);
        }
    }

    #[test]
    fn near_misses_are_refused_offline() {
        let swapped_prefix = VECTOR.replace("AbCd1234", "AbCd1235");
        let typo = VECTOR.replace("klmn", "klmm");
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            (&VECTOR[..VECTOR.len() - 1], "one character short"),
            (&swapped_prefix, "prefix changed, checksum kept"),
            (&typo, "typo in the secret"),
            (
                "sb_AbCd1234-0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M",
                "wrong separator",
            ),
            (
                "xx_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M",
                "wrong scheme",
            ),
            (
                "sb_AbCd12é4_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20",
                "non-ASCII",
            ),
            (
                "sb_AbCd-234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M",
                "symbol in prefix",
            ),
        ];
        for (input, why) in cases {
            assert!(parse(input).is_none(), "{why}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_plaintext() {
        let t = generate();
        assert!(!format!("{t:?}").contains(&t.plaintext));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_any_string_never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s);
        }

        #[test]
        fn any_single_character_change_is_caught(pos in 3usize..TOKEN_LEN, c in "[0-9A-Za-z]") {
            let t = generate();
            let mut bytes = t.plaintext.clone().into_bytes();
            prop_assume!(pos != 11 && bytes[pos] != c.as_bytes()[0]);
            bytes[pos] = c.as_bytes()[0];
            let changed = String::from_utf8(bytes).unwrap();
            // CRC32 catches every single-character substitution.
            prop_assert!(parse(&changed).is_none(), "{changed}");
        }
    }
}
