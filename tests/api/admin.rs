//! The admin page's session layer: first-run setup, sign-in, CSRF, throttling, expiry, headers.

use serde_json::{Value, json};
use switchboard::manage::users::UserInput;
use switchboard::model::Role;
use switchboard::store;

use crate::helpers::{Reply, TestApp, spawn_app};

pub const PASSWORD: &str = "correct horse battery";

/// A signed-in browser: the session cookie and the CSRF token.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

impl Browser<'_> {
    /// A request with the session cookie, and the CSRF token on anything but GET.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        let mut headers = vec![("cookie", self.cookie.as_str())];
        if method != "GET" {
            headers.push(("x-csrf-token", self.csrf.as_str()));
        }
        if bytes.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.app.send(method, path, &headers, bytes.as_deref())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Reply {
        self.call("PATCH", path, Some(body))
    }
}

fn post_json(app: &TestApp, path: &str, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    app.send(
        "POST",
        path,
        &[("content-type", "application/json")],
        Some(&bytes),
    )
}

/// The `name=value` part of the session cookie an answer set.
fn session_cookie(r: &Reply) -> String {
    let set = r.header("set-cookie").expect("a session cookie");
    set.split(';').next().unwrap().to_owned()
}

/// Adds a user who can sign in.
pub fn add_person(app: &TestApp, email: &str, role: Role) {
    let input = UserInput {
        email: email.into(),
        name: None,
        role,
        account: "default".into(),
        permissions: None,
        password: Some(PASSWORD.into()),
    };
    app.manage(|c| switchboard::manage::users::add(c, input));
}

/// Signs in with the shared test password.
pub fn sign_in<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    let r = post_json(
        app,
        "/admin/api/login",
        &json!({"email": email, "password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    Browser {
        app,
        cookie: session_cookie(&r),
        csrf: r.json()["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// An admin of the default account, signed in.
pub fn admin(app: &TestApp) -> Browser<'_> {
    add_person(app, "boss@example.com", Role::Admin);
    sign_in(app, "boss@example.com")
}

fn setup_code(app: &TestApp) -> String {
    let url = app
        .setup_url
        .as_deref()
        .expect("a fresh database prints a setup address");
    assert!(
        url.starts_with(&format!("{}/admin/setup?code=", app.address)),
        "{url}"
    );
    url.rsplit_once("code=").unwrap().1.to_owned()
}

#[test]
fn the_setup_address_creates_the_first_admin_once() {
    let app = spawn_app();
    let code = setup_code(&app);
    let status = app.send("GET", "/admin/api/setup", &[], None);
    assert_eq!(status.json()["setup_required"], true);

    let weak = json!({"code": code, "email": "first@example.com", "password": "short"});
    let r = post_json(&app, "/admin/api/setup", &weak);
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["errors"][0]["field"], "password");

    let good = json!({"code": code, "email": "first@example.com", "password": PASSWORD});
    let r = post_json(&app, "/admin/api/setup", &good);
    assert_eq!(
        r.status, 201,
        "a refused attempt did not spend the code: {}",
        r.text
    );
    let browser = Browser {
        app: &app,
        cookie: session_cookie(&r),
        csrf: r.json()["csrf_token"].as_str().unwrap().to_owned(),
    };
    let me = browser.get("/admin/api/me").json();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email"], "first@example.com");

    let again = json!({"code": code, "email": "second@example.com", "password": PASSWORD});
    let r = post_json(&app, "/admin/api/setup", &again);
    assert_eq!(r.status, 403, "single use: {}", r.text);
    let wrong = json!({"code": "guess", "email": "x@example.com", "password": PASSWORD});
    assert_eq!(post_json(&app, "/admin/api/setup", &wrong).status, 403);
    let status = app.send("GET", "/admin/api/setup", &[], None);
    assert_eq!(status.json()["setup_required"], false);
}

#[test]
fn an_expired_setup_code_is_refused() {
    let app = spawn_app();
    let code = setup_code(&app);
    let conn = store::open_connection(&app.db_path).unwrap();
    conn.execute("UPDATE admin_setup_codes SET expires_at = 0", [])
        .unwrap();
    let body = json!({"code": code, "email": "first@example.com", "password": PASSWORD});
    assert_eq!(post_json(&app, "/admin/api/setup", &body).status, 403);
}

#[test]
fn signing_in_sets_a_strict_http_only_cookie() {
    let app = spawn_app();
    add_person(&app, "boss@example.com", Role::Admin);
    let r = post_json(
        &app,
        "/admin/api/login",
        &json!({"email": "BOSS@example.com", "password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let cookie = r.header("set-cookie").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP without the flag");
    assert!(r.json()["csrf_token"].as_str().unwrap().len() >= 32);

    let r = post_json(
        &app,
        "/admin/api/login",
        &json!({"email": "boss@example.com", "password": "wrong password"}),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "invalid_credentials");
    let r = app.send(
        "POST",
        "/admin/api/login",
        &[("content-type", "text/plain")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 415, "login accepts JSON only");
}

#[test]
fn the_cookie_is_secure_when_the_server_is_told_so() {
    let app = crate::helpers::spawn_app_with(|s| s.secure_cookies = true);
    add_person(&app, "boss@example.com", Role::Admin);
    let r = post_json(
        &app,
        "/admin/api/login",
        &json!({"email": "boss@example.com", "password": PASSWORD}),
    );
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
}

/// Every admin API route, with a body where it takes one.
pub const ROUTES: [(&str, &str); 24] = [
    ("GET", "/admin/api/me"),
    ("POST", "/admin/api/logout"),
    ("GET", "/admin/api/tokens"),
    ("POST", "/admin/api/tokens"),
    ("GET", "/admin/api/tokens/1"),
    ("PATCH", "/admin/api/tokens/1"),
    ("POST", "/admin/api/tokens/1/revoke"),
    ("POST", "/admin/api/tokens/1/rotate"),
    ("GET", "/admin/api/tokens/1/usage"),
    ("GET", "/admin/api/users"),
    ("POST", "/admin/api/users"),
    ("PATCH", "/admin/api/users/1"),
    ("GET", "/admin/api/account"),
    ("PATCH", "/admin/api/account"),
    ("GET", "/admin/api/audit"),
    ("GET", "/admin/api/webhooks"),
    ("POST", "/admin/api/webhooks"),
    ("GET", "/admin/api/webhooks/events"),
    ("DELETE", "/admin/api/webhooks/1"),
    ("PATCH", "/admin/api/webhooks/1"),
    ("POST", "/admin/api/webhooks/1/rotate-secret"),
    ("POST", "/admin/api/webhooks/1/test"),
    ("GET", "/admin/api/deliveries"),
    ("POST", "/admin/api/deliveries/1/replay"),
];

#[test]
fn every_admin_route_needs_a_session_and_api_tokens_do_not_count() {
    let app = spawn_app();
    let token = app.admin_token();
    let bearer = format!("Bearer {token}");
    for (method, path) in ROUTES {
        for headers in [
            vec![],
            vec![("authorization", bearer.as_str())],
            vec![("x-api-key", token.as_str())],
        ] {
            let r = app.send(method, path, &headers, None);
            assert_eq!(r.status, 401, "{method} {path}: {}", r.text);
            assert_eq!(r.code(), "login_required", "{method} {path}");
        }
    }
}

#[test]
fn every_state_change_needs_the_csrf_token() {
    let app = spawn_app();
    let b = admin(&app);
    for (method, path) in ROUTES.iter().filter(|(m, _)| *m != "GET") {
        for csrf in [None, Some("wrong"), Some("")] {
            let mut headers = vec![
                ("cookie", b.cookie.as_str()),
                ("content-type", "application/json"),
            ];
            if let Some(c) = csrf {
                headers.push(("x-csrf-token", c));
            }
            let r = app.send(method, path, &headers, Some(b"{}"));
            assert_eq!(r.status, 403, "{method} {path} with {csrf:?}: {}", r.text);
            assert_eq!(r.code(), "csrf_failed");
        }
    }
    assert_eq!(b.get("/admin/api/me").status, 200, "still signed in");
}

#[test]
fn failed_sign_ins_are_throttled_per_account() {
    let app = spawn_app();
    add_person(&app, "boss@example.com", Role::Admin);
    let wrong = json!({"email": "boss@example.com", "password": "not the password"});
    let statuses: Vec<u16> = (0..6)
        .map(|_| post_json(&app, "/admin/api/login", &wrong).status)
        .collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let right = json!({"email": "boss@example.com", "password": PASSWORD});
    let r = post_json(&app, "/admin/api/login", &right);
    assert_eq!(r.status, 429, "even the right password waits");
    assert_eq!(r.code(), "rate_limited");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
}

#[test]
fn failed_sign_ins_are_throttled_per_address_across_emails() {
    let app = spawn_app();
    let statuses: Vec<u16> = (0..11)
        .map(|i| {
            let body = json!({"email": format!("nobody{i}@example.com"), "password": "x"});
            post_json(&app, "/admin/api/login", &body).status
        })
        .collect();
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
}

#[test]
fn logging_out_ends_the_session() {
    let app = spawn_app();
    let b = admin(&app);
    let r = b.call("POST", "/admin/api/logout", None);
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(b.get("/admin/api/me").code(), "login_required");
}

#[test]
fn idle_and_old_sessions_expire_and_disabled_users_are_signed_out() {
    let app = spawn_app();
    let b = admin(&app);
    let conn = store::open_connection(&app.db_path).unwrap();
    conn.execute(
        "UPDATE admin_sessions SET last_seen_at = last_seen_at - 31 * 60000",
        [],
    )
    .unwrap();
    assert_eq!(b.get("/admin/api/me").status, 401, "idle for 31 minutes");

    let b = sign_in(&app, "boss@example.com");
    conn.execute("UPDATE admin_sessions SET expires_at = 1", [])
        .unwrap();
    assert_eq!(
        b.get("/admin/api/me").status,
        401,
        "past the absolute expiry"
    );

    let b = sign_in(&app, "boss@example.com");
    conn.execute("UPDATE users SET disabled = 1", []).unwrap();
    assert_eq!(b.get("/admin/api/me").status, 401, "a disabled user");
}

#[test]
fn every_admin_answer_carries_the_security_headers() {
    let app = spawn_app();
    let b = admin(&app);
    let answers = [
        app.send("GET", "/admin/", &[], None),
        app.send("GET", "/admin/app.js", &[], None),
        app.send("GET", "/admin/nothing-here", &[], None),
        app.send("GET", "/admin/api/tokens", &[], None),
        b.get("/admin/api/me"),
        app.send("PUT", "/admin/api/me", &[], None),
        app.send("HEAD", "/admin/", &[], None),
        app.send("POST", "/admin/app.js", &[], None),
    ];
    let expected = [200, 200, 404, 401, 200, 405, 200, 405];
    for (r, status) in answers.iter().zip(expected) {
        assert_eq!(r.status, status, "{}", r.text);
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }
    assert_eq!(answers[4].header("cache-control"), Some("no-store"));
    // A 405 names what the path serves; the page answers HEAD like GET, without its body.
    assert_eq!(answers[5].header("allow"), Some("GET"));
    assert_eq!(answers[7].header("allow"), Some("GET, HEAD"));
    assert_eq!(answers[6].text, "");
    assert_eq!(
        answers[6].header("content-type"),
        answers[0].header("content-type")
    );
}

#[test]
fn the_page_is_embedded_and_has_no_inline_script() {
    let app = spawn_app();
    let r = app.send("GET", "/admin", &[], None);
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/admin/"));
    for path in ["/admin/", "/admin/setup?code=abc"] {
        let page = app.send("GET", path, &[], None);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(
            page.text.contains(r#"<script src="app.js""#) || page.text.contains("/admin/app.js")
        );
        assert!(!page.text.contains("<script>"), "no inline script");
        assert!(!page.text.contains("style=\""), "no inline style");
        assert!(
            !page.text.contains("http://") && !page.text.contains("https://"),
            "no CDN"
        );
    }
    let css = app.send("GET", "/admin/app.css", &[], None);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
}
