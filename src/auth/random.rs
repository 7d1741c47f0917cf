//! Secrets come straight from the operating system's CSPRNG, never from a user-space generator.

use rand::TryRng;
use rand::rngs::SysRng;

/// The base62 alphabet of tokens and checksums: `0-9A-Za-z`.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fills `buf` from the OS CSPRNG.
///
/// # Panics
/// When the operating system cannot supply randomness: no secret may be made without it.
pub fn fill(buf: &mut [u8]) {
    SysRng
        .try_fill_bytes(buf)
        .expect("the operating system's random source failed");
}

/// `n` random bytes from the OS CSPRNG.
pub fn bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fill(&mut v);
    v
}

/// `n` uniformly random base62 characters (rejection sampling: no modulo bias).
pub fn base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    push_base62(&mut out, n, fill);
    out
}

/// Appends `n` random base62 characters drawn from `source`.
fn push_base62(out: &mut String, n: usize, mut source: impl FnMut(&mut [u8])) {
    let mut buf = [0u8; 64];
    let mut left = n;
    while left > 0 {
        // A byte is rejected 6 times in 256: draw a little more than is left, not a whole
        // buffer, so a 20-character id takes 23 bytes of the randomness fetched ahead.
        let draw = &mut buf[..(left + left / 8 + 1).min(64)];
        source(draw);
        for &b in &*draw {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && left > 0 {
                out.push(BASE62[usize::from(b % 62)] as char);
                left -= 1;
            }
        }
    }
}

thread_local! {
    /// OS randomness fetched ahead, for identifiers only: (bytes, how many are used).
    static AHEAD: std::cell::RefCell<([u8; 4096], usize)> =
        const { std::cell::RefCell::new(([0; 4096], 4096)) };
}

/// Fills `buf` from OS randomness fetched ahead in 4 KiB blocks per thread: one system call
/// per few hundred identifiers. Never for secrets (tokens, webhook secrets, sessions use
/// [`fill`]): only for identifiers that must be unique and unguessable but are not keys.
fn fill_ahead(buf: &mut [u8]) {
    AHEAD.with(|cell| {
        let (block, used) = &mut *cell.borrow_mut();
        let mut done = 0;
        while done < buf.len() {
            if *used == block.len() {
                fill(block);
                *used = 0;
            }
            let n = (buf.len() - done).min(block.len() - *used);
            buf[done..done + n].copy_from_slice(&block[*used..*used + n]);
            // Used bytes are wiped, so a later read of this buffer cannot replay them.
            block[*used..*used + n].fill(0);
            *used += n;
            done += n;
        }
    });
}

/// An identifier: `n` random base62 characters, from randomness fetched ahead (see
/// `fill_ahead`): request ids on every call cost no system call of their own.
pub fn id(n: usize) -> String {
    let mut out = String::with_capacity(n);
    push_base62(&mut out, n, fill_ahead);
    out
}

/// Appends a time-ordered identifier to `out`: the milliseconds since the epoch as 8 base62
/// characters (fixed width, so text order is time order until the year 8800), then `n`
/// random ones.
/// Unique indexes on such ids take each new key at their right edge instead of a random
/// page, which keeps a busy writer's commits small.
pub fn push_ordered_id(out: &mut String, unix_ms: i64, n: usize) {
    let mut t = u64::try_from(unix_ms).unwrap_or(0);
    let mut digits = [b'0'; 8];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(t % 62) as usize];
        t /= 62;
    }
    out.extend(digits.iter().map(|&b| b as char));
    push_base62(out, n, fill_ahead);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_asked_length_and_alphabet() {
        for n in [0, 1, 20, 27, 300] {
            let s = id(n);
            assert_eq!(s.len(), n);
            assert!(s.bytes().all(|b| BASE62.contains(&b)));
        }
        assert_ne!(id(20), id(20));
    }

    /// Bytes that would bias the alphabet are skipped, however many there are.
    #[test]
    fn rejected_bytes_are_skipped() {
        let mut n = 0u32;
        let mostly_rejected = |buf: &mut [u8]| {
            for b in buf {
                n += 1;
                *b = if n.is_multiple_of(7) { 63 } else { 250 };
            }
        };
        let mut out = String::new();
        push_base62(&mut out, 30, mostly_rejected);
        assert_eq!(out, "1".repeat(30));
    }

    #[test]
    fn ordered_ids_sort_by_time() {
        let times = [
            0,
            1,
            61,
            62,
            1_764_000_000_000,
            1_764_000_000_001,
            99_999_999_999_999,
        ];
        let ordered_id = |t| {
            let mut id = String::new();
            push_ordered_id(&mut id, t, 19);
            id
        };
        let ids: Vec<String> = times.iter().map(|&t| ordered_id(t)).collect();
        for pair in ids.windows(2) {
            assert!(pair[0][..8] < pair[1][..8], "{pair:?}");
        }
        assert!(ids.iter().all(|i| i.len() == 27));
    }
}
