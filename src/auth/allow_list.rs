//! IP allow-lists: CIDR blocks, IPv4 and IPv6; a bare address means a single host.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (`/32` or `/128`). A block of
/// IPv4-mapped addresses (`::ffff:10.0.0.0/104`) is the IPv4 block it maps: callers'
/// addresses are compared in that form (`canonical`), so the mapped form would match no one.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let net = match s.parse::<IpNet>() {
        Ok(net) => net.trunc(),
        Err(_) => s
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?,
    };
    Ok(unmapped(net))
}

/// `::ffff:a.b.c.d/n` (n >= 96) as `a.b.c.d/(n - 96)`; any other block as it is.
fn unmapped(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        _ => net,
    }
}

/// Parses a list of CIDR strings; the first bad one is the error.
pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<IpNet>, String> {
    items.iter().map(|s| parse_cidr(s.as_ref())).collect()
}

/// Normalises an address: an IPv4-mapped IPv6 address is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// True when the list is empty (no restriction) or contains `ip`.
pub fn permits(list: &[IpNet], ip: IpAddr) -> bool {
    list.is_empty() || list.iter().any(|n| n.contains(&canonical(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_addresses_are_single_hosts_and_blocks_are_normalised() {
        assert_eq!(parse_cidr("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        assert_eq!(
            parse_cidr("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("example.com").is_err());
    }

    #[test]
    fn an_empty_list_permits_everyone_and_mapped_addresses_match_ipv4_blocks() {
        let list = parse_list(&["10.0.0.0/8"]).unwrap();
        assert!(permits(&[], "8.8.8.8".parse().unwrap()));
        assert!(permits(&list, "10.9.9.9".parse().unwrap()));
        assert!(permits(&list, "::ffff:10.9.9.9".parse().unwrap()));
        assert!(!permits(&list, "11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn mapped_blocks_are_their_ipv4_blocks() {
        assert_eq!(
            parse_cidr("::ffff:127.0.0.1").unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(
            parse_cidr("::ffff:0:0/96").unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            parse_cidr("::ffff:10.1.0.0/112").unwrap().to_string(),
            "10.1.0.0/16"
        );
        let list = parse_list(&["::ffff:127.0.0.1"]).unwrap();
        assert!(permits(&list, "127.0.0.1".parse().unwrap()));
        assert!(permits(&list, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(!permits(&list, "127.0.0.2".parse().unwrap()));
        // Not mapped addresses: as written.
        assert_eq!(parse_cidr("::1").unwrap().to_string(), "::1/128");
        assert_eq!(parse_cidr("::/0").unwrap().to_string(), "::/0");
        assert_eq!(
            parse_cidr("::ffff:0:0/95").unwrap().to_string(),
            "::fffe:0:0/95"
        );
    }
}
