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
    fn a_malformed_entry_is_not_believed() {
        assert_eq!(
            from_forwarded_for("1.2.3.4, garbage", &nets(&["10.0.0.0/8"])),
            None
        );
    }
}
