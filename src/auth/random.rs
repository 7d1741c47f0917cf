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
    let mut buf = [0u8; 64];
    while out.len() < n {
        fill(&mut buf);
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < n {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    out
}
