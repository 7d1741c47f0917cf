//! JSON string literals, written as serde_json writes them, into a `String`: a record's text
//! fields (`resources::json`) and an event's type (the subscribed-endpoint look-up and the
//! delivery envelope). One escaper, so the two agree with each other and with serde_json.

/// `s` as a JSON string, escaped as serde_json escapes it: `"` and `\`, and the control
/// characters below U+0020 (`\b \t \n \f \r` by name, the others as `\u00XX`); the rest,
/// DEL and non-ASCII included, as it is.
pub fn push(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    while let Some(found) = first_to_escape(&bytes[plain_from..]) {
        let i = plain_from + found;
        // An ASCII byte is a whole character: `i` is a character boundary.
        out.push_str(&s[plain_from..i]);
        let b = bytes[i];
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        plain_from = i + 1;
    }
    out.push_str(&s[plain_from..]);
    out.push('"');
}

fn must_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Where the first byte JSON escapes is, looked for eight bytes at a time: most text has
/// none, and a byte-by-byte look was most of the cost of writing a record.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte of the result is set for a byte below `n` (n <= 0x80); any
    // byte set means some byte of `w` is below `n` (the classic "has less" test).
    let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGH;
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let w = u64::from_ne_bytes(chunk.try_into().expect("eight bytes"));
        if below(w, 0x20) | below(w ^ (ONES * 0x22), 1) | below(w ^ (ONES * 0x5c), 1) != 0
            && let Some(i) = chunk.iter().position(|&b| must_escape(b))
        {
            return Some(at + i);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| must_escape(b))
        .map(|i| at + i)
}

/// `s` as a JSON string literal.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As serde_json quotes it: plain names, escapes by name and by number, DEL and
    /// non-ASCII as they are, and each escape at every position of the eight-byte look.
    #[test]
    fn strings_are_quoted_as_serde_json_quotes_them() {
        let mut samples: Vec<String> = [
            "lead.created",
            "token.new_ip",
            "*",
            "",
            "a\"b",
            "back\\slash",
            "tab\t",
            "\u{0}\u{1f}\u{7f}",
            "é.x 日本 🦀",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for len in 0..20 {
            for at in 0..len {
                for special in ['"', '\\', '\n', '\u{1}'] {
                    let mut s: Vec<char> = "abcdefghijklmnopqrst".chars().take(len).collect();
                    s[at] = special;
                    samples.push(s.into_iter().collect());
                }
            }
        }
        for s in samples {
            assert_eq!(quoted(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }
}
