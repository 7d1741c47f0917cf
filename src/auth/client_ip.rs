//! Who is calling: the TCP peer, unless the peer is a trusted proxy; only then is the
//! right-most untrusted `X-Forwarded-For` entry believed.

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

/// `ip` as `Display` writes it. Each call's address is written twice, for its audit row and
/// its log line: an IPv4 address, nearly every caller's, without the formatting machinery.
pub fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(itoa::Buffer::new().format(octet));
    }
    out
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
