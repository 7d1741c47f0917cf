//! The outbound address policy, applied to what a name resolves to at connect time.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use switchboard::webhooks::HostResolver;

use super::{WAIT, deliveries, endpoint, fast, post_lead};
use crate::helpers::{eventually, spawn_app_with};
use crate::receiver::Receiver;

/// Answers every name with fixed addresses, as a rebinding DNS server might.
struct FixedResolver(Vec<SocketAddr>);

impl HostResolver for FixedResolver {
    fn lookup(&self, _host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(self
            .0
            .iter()
            .map(|a| SocketAddr::new(a.ip(), port))
            .collect())
    }
}

#[test]
fn a_name_resolving_to_a_metadata_address_is_never_contacted() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.resolver = Some(Arc::new(FixedResolver(vec![
            "169.254.169.254:80".parse().unwrap(),
        ])));
    });
    let (ep, _) = endpoint(&app, "http://hooks.example.com/in", &["lead.created"]);
    post_lead(&app, &app.admin_token(), "Sneaky");
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].attempts >= 1));
    let d = &deliveries(&app, ep)[0];
    let why = d.last_error.as_deref().unwrap();
    assert!(
        why.contains("169.254.169.254") && why.contains("outbound address policy"),
        "{why}"
    );
    assert_eq!(d.last_status, None);
}

#[test]
fn private_addresses_are_refused_at_connect_time_only_when_denied() {
    let rx = Receiver::ok();
    let loopback: SocketAddr = format!("127.0.0.1:{}", rx.port).parse().unwrap();
    let url = format!("http://receiver.example.com:{}/hook", rx.port);
    for deny in [true, false] {
        let app = spawn_app_with(|s| {
            fast(s);
            s.webhooks.deny_private = deny;
            s.webhooks.resolver = Some(Arc::new(FixedResolver(vec![loopback])));
        });
        let (ep, _) = endpoint(&app, &url, &["lead.created"]);
        post_lead(&app, &app.admin_token(), "Local");
        assert!(eventually(WAIT, || deliveries(&app, ep)[0].attempts >= 1));
        let d = &deliveries(&app, ep)[0];
        if deny {
            assert!(d.last_error.as_deref().unwrap().contains("deny-private"));
            assert_eq!(rx.count(), 0, "a denied address must not be contacted");
        } else {
            assert_eq!(d.status, "delivered", "{d:?}");
            assert_eq!(rx.count(), 1);
        }
    }
}
