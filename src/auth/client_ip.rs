//! Who is calling: the TCP peer, unless the peer is a trusted proxy; only then is the
//! right-most untrusted `X-Forwarded-For` entry believed.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;
use ipnet::IpNet;

use super::allow_list::canonical;

/// The caller's address for `req`.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| canonical(a.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if trusted.is_empty() || !trusted.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    from_forwarded_for(&forwarded, trusted).unwrap_or(peer)
}

/// Walks the list from the right, skipping trusted proxies; a malformed entry stops the walk.
fn from_forwarded_for(header: &str, trusted: &[IpNet]) -> Option<IpAddr> {
    let mut last_trusted = None;
    for entry in header.rsplit(',').map(str::trim).filter(|e| !e.is_empty()) {
        let ip = canonical(entry.parse::<IpAddr>().ok()?);
        if !trusted.iter().any(|n| n.contains(&ip)) {
            return Some(ip);
        }
        last_trusted = Some(ip);
    }
    last_trusted
}

/// `ip` as `Display` writes it, held on the stack: each call's address is written for its
/// log line and, once per flush and address, for the audit's stamps. An IPv4 address, nearly
/// every caller's, is written without the formatting machinery.
pub struct IpText {
    buf: [u8; IP_TEXT_MAX],
    len: usize,
}

/// The longest text `Display` writes for an address (`ffff:...:ffff` is 39, an IPv4-mapped
/// one at most 22).
const IP_TEXT_MAX: usize = 45;

impl IpText {
    /// `ip`'s text.
    pub fn new(ip: IpAddr) -> IpText {
        let mut text = IpText {
            buf: [0; IP_TEXT_MAX],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b".");
                    }
                    text.push(itoa::Buffer::new().format(octet).as_bytes());
                }
            }
            IpAddr::V6(v6) => {
                let mut cursor = std::io::Cursor::new(&mut text.buf[..]);
                // Never longer than the buffer (see `IP_TEXT_MAX`).
                let _ = write!(cursor, "{v6}");
                text.len = cursor.position() as usize;
            }
        }
        text
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Digits, dots, colons and hex letters only.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// `ip` as `Display` writes it.
pub fn ip_text(ip: IpAddr) -> String {
    IpText::new(ip).as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        let got = from_forwarded_for("203.0.113.9, 198.51.100.2, 10.0.0.5", &trusted);
        assert_eq!(got, Some("198.51.100.2".parse().unwrap()));
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "10.0.0.7",
            "127.0.0.1",
            "1.22.103.4",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:255.255.255.255",
            "fe80::1234:5678:9abc:def0",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

    #[test]
    fn a_malformed_entry_is_not_believed() {
        assert_eq!(
            from_forwarded_for("1.2.3.4, garbage", &nets(&["10.0.0.0/8"])),
            None
        );
    }
}
