//! The outbound address policy: which addresses a delivery may connect to. Checked on the
//! addresses a name resolves to, right before connecting to exactly those, so a DNS answer
//! that changes between a check and the connection (rebinding) cannot get around it.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Name resolution that deliveries use; tests inject their own.
pub trait HostResolver: Send + Sync + 'static {
    /// The addresses of `host` (a name, never an IP literal) at `port`.
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// Which addresses may be contacted.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressPolicy {
    /// Refuse loopback and private networks as well.
    pub deny_private: bool,
}

/// Addresses of cloud metadata services outside the link-local ranges.
const METADATA: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)), // Alibaba Cloud
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)), // AWS over IPv6
];

impl AddressPolicy {
    /// Why `ip` may not be contacted, if it may not.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        // An IPv4 address written as IPv6 (::ffff:a.b.c.d) is judged as the IPv4 one.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if METADATA.contains(&ip) {
            return Some("a cloud metadata address");
        }
        let never = match ip {
            IpAddr::V4(v4) => {
                v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()
            }
            IpAddr::V6(v6) => {
                (v6.segments()[0] & 0xffc0) == 0xfe80 || v6.is_unspecified() || v6.is_multicast()
            }
        };
        if never {
            return Some("a link-local, unspecified or multicast address");
        }
        let private = match ip {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                v4.is_loopback()
                    || v4.is_private()
                    || a == 0
                    || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
            }
            IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
        (private && self.deny_private)
            .then_some("a loopback or private address (--webhook-deny-private)")
    }
}

/// ureq's resolver, with the policy applied to every answer.
pub struct PolicyResolver {
    policy: AddressPolicy,
    custom: Option<Arc<dyn HostResolver>>,
    system: DefaultResolver,
}

impl PolicyResolver {
    /// Resolves with `custom`, or the system's resolver when `None`.
    pub fn new(policy: AddressPolicy, custom: Option<Arc<dyn HostResolver>>) -> PolicyResolver {
        PolicyResolver {
            policy,
            custom,
            system: DefaultResolver::default(),
        }
    }

    fn resolve_unchecked(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match &self.custom {
            Some(custom) if bare.parse::<IpAddr>().is_err() => {
                let port = uri.port_u16().unwrap_or_else(|| {
                    if uri.scheme_str() == Some("https") {
                        443
                    } else {
                        80
                    }
                });
                Ok(custom.lookup(bare, port)?)
            }
            _ => Ok(self
                .system
                .resolve(uri, config, timeout)?
                .iter()
                .copied()
                .collect()),
        }
    }
}

impl Resolver for PolicyResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let found = self.resolve_unchecked(uri, config, timeout)?;
        let mut out = self.empty();
        let mut refused = None;
        for addr in found {
            match self.policy.refusal(addr.ip()) {
                Some(why) => refused = Some((addr.ip(), why)),
                // Beyond ureq's 16 addresses, the rest are not needed.
                None => {
                    let _ = out.try_push(addr);
                }
            }
        }
        match (out.is_empty(), refused) {
            (false, _) => Ok(out),
            (true, Some((ip, why))) => Err(ureq::Error::Io(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("refused to connect to {ip}: {why} (outbound address policy)"),
            ))),
            (true, None) => Err(ureq::Error::HostNotFound),
        }
    }
}

impl fmt::Debug for PolicyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyResolver")
            .field("policy", &self.policy)
            .field("custom", &self.custom.is_some())
            .finish()
    }
}

/// The system resolver as a [`HostResolver`], for callers that want one.
#[derive(Debug, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_metadata_addresses_are_never_contacted() {
        let open = AddressPolicy::default();
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(open.refusal(ip).is_some(), "{ip} must be refused");
        }
    }

    #[test]
    fn loopback_and_private_networks_are_allowed_unless_denied() {
        let open = AddressPolicy::default();
        let closed = AddressPolicy { deny_private: true };
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.10",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(open.refusal(ip), None, "{ip} allowed by default");
            assert!(closed.refusal(ip).is_some(), "{ip} refused when denied");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "172.32.0.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(closed.refusal(ip), None, "{ip} is public");
        }
    }
}
