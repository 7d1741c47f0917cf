//! API7: webhook URLs cannot make the server reach metadata or link-local addresses, by
//! literal address, by a name that resolves there, or by a redirect; all traffic stays on
//! loopback.

use crate::helpers::{eventually, spawn_app_with};
use crate::receiver::{Answer, Receiver};
use crate::webhooks::{WAIT, deliveries, endpoint, fast, post_lead};

#[test]
fn literal_metadata_and_link_local_addresses_are_never_contacted() {
    let app = spawn_app_with(fast);
    let token = app.admin_token();
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
    ] {
        let (ep, _) = endpoint(&app, url, &["lead.created"]);
        post_lead(&app, &token, "probe");
        assert!(
            eventually(WAIT, || deliveries(&app, ep)
                .first()
                .is_some_and(|d| d.attempts >= 1)),
            "{url}"
        );
        let d = &deliveries(&app, ep)[0];
        assert_eq!(d.last_status, None, "{url} was contacted");
        assert!(
            d.last_error.as_deref().unwrap_or("").contains("policy"),
            "{url}: {:?}",
            d.last_error
        );
    }
}

#[test]
fn a_redirect_towards_the_metadata_service_is_not_followed() {
    let rx = Receiver::scripted(|_| {
        Answer::status(302).with_header("location", "http://169.254.169.254/latest/meta-data/")
    });
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.resolver = None;
    });
    let (ep, _) = endpoint(&app, &rx.url, &["lead.created"]);
    post_lead(&app, &app.admin_token(), "redirected");
    assert!(eventually(WAIT, || deliveries(&app, ep)[0].attempts >= 1));
    let d = &deliveries(&app, ep)[0];
    assert_eq!(d.last_status, Some(302));
    assert_eq!(
        rx.count(),
        1,
        "exactly the one request to the receiver, nothing followed"
    );
}
