//! The outbound address policy: which addresses a delivery may connect to. Checked on the
//! addresses a name resolves to, right before connecting to exactly those, so a DNS answer
//! that changes between a check and the connection (rebinding) cannot get around it.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
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

/// The host of `uri` (an IPv6 literal without its brackets) and its port, given or the
/// scheme's.
fn host_and_port(uri: &Uri) -> Option<(&str, u16)> {
    let host = uri.host()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or_else(|| {
        if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        }
    });
    Some((bare, port))
}

/// How long a name's addresses are reused. ureq looks the receiver up before every request,
/// pooled connection or not, and with a timeout set it does so on a thread of its own: each
/// delivery cost a thread and a DNS query. The system resolver tells no TTL; a receiver that
/// moves is found again within this.
const NAME_TTL: Duration = Duration::from_secs(30);
/// The most names whose addresses are kept.
const NAMES_KEPT: u64 = 256;

/// ureq's resolver, with the policy applied to every answer.
pub struct PolicyResolver {
    policy: AddressPolicy,
    custom: Option<Arc<dyn HostResolver>>,
    system: DefaultResolver,
    /// The last answer for each (name, port), before the policy: it is applied at each use.
    names: Cache<(String, u16), Arc<[SocketAddr]>>,
}

impl PolicyResolver {
    /// Resolves with `custom`, or the system's resolver when `None`.
    pub fn new(policy: AddressPolicy, custom: Option<Arc<dyn HostResolver>>) -> PolicyResolver {
        PolicyResolver {
            policy,
            custom,
            system: DefaultResolver::default(),
            names: Cache::builder()
                .max_capacity(NAMES_KEPT)
                .time_to_live(NAME_TTL)
                .build(),
        }
    }

    fn resolve_unchecked(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        let (bare, port) = host_and_port(uri).ok_or(ureq::Error::HostNotFound)?;
        self.addresses(bare, port, || match &self.custom {
            Some(custom) => Ok(custom.lookup(bare, port)?),
            None => Ok(self
                .system
                .resolve(uri, config, timeout)?
                .iter()
                .copied()
                .collect()),
        })
    }

    /// The addresses of `host` at `port`: an IP literal's own, else the cached answer for
    /// the name, else `look_up`'s (kept unless it failed or was empty).
    fn addresses(
        &self,
        host: &str,
        port: u16,
        look_up: impl FnOnce() -> Result<Vec<SocketAddr>, ureq::Error>,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let key = (host.to_ascii_lowercase(), port);
        if let Some(found) = self.names.get(&key) {
            return Ok(found.to_vec());
        }
        let found = look_up()?;
        if !found.is_empty() {
            self.names.insert(key, found.as_slice().into());
        }
        Ok(found)
    }

    /// Applies the policy to `found`: the allowed addresses, or why none is.
    fn allowed(&self, found: Vec<SocketAddr>) -> Result<ResolvedSocketAddrs, ureq::Error> {
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

impl Resolver for PolicyResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.allowed(self.resolve_unchecked(uri, config, timeout)?)
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

    /// `resolver.addresses` for `host`, counting the look-ups it made in `calls`.
    fn resolve_counted(
        resolver: &PolicyResolver,
        host: &str,
        answer: io::Result<Vec<SocketAddr>>,
        calls: &std::cell::Cell<u32>,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let found = resolver.addresses(host, 443, || {
            calls.set(calls.get() + 1);
            Ok(answer?)
        })?;
        resolver.allowed(found)
    }

    #[test]
    fn a_name_is_looked_up_once_and_its_answer_still_meets_the_policy_at_each_use() {
        let closed = PolicyResolver::new(AddressPolicy { deny_private: true }, None);
        let loopback: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let calls = std::cell::Cell::new(0);
        for _ in 0..3 {
            let got = resolve_counted(&closed, "Hooks.Example.com", Ok(vec![public]), &calls);
            assert_eq!(got.unwrap().to_vec(), [public]);
        }
        // Names are case-insensitive: the cached answer, not this one, comes back.
        resolve_counted(&closed, "hooks.example.com", Ok(vec![]), &calls).unwrap();
        assert_eq!(calls.get(), 1);
        for _ in 0..2 {
            let refused = resolve_counted(&closed, "inside.example", Ok(vec![loopback]), &calls);
            assert!(
                refused
                    .unwrap_err()
                    .to_string()
                    .contains("refused to connect")
            );
        }
        assert_eq!(
            calls.get(),
            2,
            "the refused answer was kept, and refused again"
        );
    }

    #[test]
    fn a_failed_lookup_is_not_kept_and_an_ip_literal_is_never_looked_up() {
        let open = PolicyResolver::new(AddressPolicy::default(), None);
        let calls = std::cell::Cell::new(0);
        let failed = io::Error::new(io::ErrorKind::NotFound, "no such host");
        assert!(resolve_counted(&open, "flaky.example", Err(failed), &calls).is_err());
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let got = resolve_counted(&open, "flaky.example", Ok(vec![public]), &calls);
        assert_eq!(got.unwrap().to_vec(), [public]);
        assert_eq!(calls.get(), 2);

        for host in ["10.0.0.7", "::1"] {
            let got = resolve_counted(&open, host, Ok(vec![]), &calls).unwrap();
            let ip: IpAddr = host.parse().unwrap();
            assert_eq!(got.to_vec(), [SocketAddr::new(ip, 443)]);
        }
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn the_host_is_taken_bare_and_the_port_defaults_to_the_scheme() {
        for (url, host, port) in [
            ("http://[::1]/hook", "::1", 80),
            (
                "https://[2606:2800:220:1::1]:8443/h",
                "2606:2800:220:1::1",
                8443,
            ),
            ("https://Hooks.Example.com/h", "Hooks.Example.com", 443),
            ("http://10.0.0.1:8080/", "10.0.0.1", 8080),
        ] {
            let uri: Uri = url.parse().unwrap();
            assert_eq!(host_and_port(&uri), Some((host, port)), "{url}");
        }
    }
}
