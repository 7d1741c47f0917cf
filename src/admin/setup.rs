//! First run: while no admin exists, `serve` issues a one-time setup code and prints the
//! address where a person creates the first admin. Only the code's SHA-256 is stored; a
//! newer code retires the older ones, and each expires.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use crate::auth::{password, random};
use crate::clock;
use crate::store::{Store, StoreResult, sessions, users};

/// How long a setup address works.
pub const CODE_LIFETIME_MS: i64 = 60 * 60 * 1000;

/// A hash that no password matches, verified when an email is unknown so that a failed
/// sign-in takes as long whether or not the account exists.
pub static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    password::hash(&random::base62(32)).unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$".into())
});

fn digest(code: &str) -> [u8; 32] {
    Sha256::digest(code.trim().as_bytes()).into()
}

/// Marks `code` used, inside the caller's transaction; false when it is unknown, used or
/// expired.
pub fn spend_code(conn: &rusqlite::Connection, code: &str) -> StoreResult<bool> {
    sessions::use_setup_code(conn, &digest(code), clock::now_ms())
}

/// The address a browser opens for `listen` (`host:port`, port already resolved). An
/// unspecified host (`0.0.0.0`, `[::]`) is not something a browser can open: name the
/// machine itself instead.
pub fn setup_url(listen_host: &str, port: u16, code: &str) -> String {
    let host = match listen_host.trim_start_matches('[').trim_end_matches(']') {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" => "[::1]".to_owned(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_owned(),
    };
    format!("http://{host}:{port}/admin/setup?code={code}")
}

/// When no admin exists, issues a code and logs the setup address once; returns it. Blocking:
/// call before the server starts.
pub fn announce(store: &Store, listen: &str, port: u16) -> StoreResult<Option<String>> {
    if store.read(users::any_admin)? {
        return Ok(None);
    }
    let code = random::base62(32);
    let hash = digest(&code);
    let now = clock::now_ms();
    // `build` runs inside the async runtime, where a blocking wait on the writer is not
    // allowed: wait on a thread of our own instead.
    let writer = store.writer().clone();
    std::thread::scope(|s| {
        s.spawn(move || {
            writer.write_blocking(move |c| {
                sessions::insert_setup_code(c, &hash, now, now + CODE_LIFETIME_MS)
            })
        })
        .join()
        .unwrap_or(Err(crate::store::StoreError::WriterGone))
    })?;
    let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
    let url = setup_url(host, port, &code);
    // Past the log filter (a code no one sees would be wasted, and `RUST_LOG=error` is a
    // reasonable setting), in the log's format: one JSON object with `--log-format json`.
    crate::notice::emit(
        tracing::Level::WARN,
        module_path!(),
        &format!(
            "no admin exists yet: open {url} in a browser to create the first admin \
             (the address works once and expires in 1 hour; from another machine, put this \
             machine's address in place of the host)"
        ),
        &[("setup_url", &url)],
    );
    Ok(Some(url))
}

#[cfg(test)]
mod tests {
    use super::setup_url;

    #[test]
    fn the_address_names_a_host_a_browser_can_open() {
        assert_eq!(
            setup_url("127.0.0.1", 8080, "abc"),
            "http://127.0.0.1:8080/admin/setup?code=abc"
        );
        assert_eq!(
            setup_url("0.0.0.0", 80, "abc"),
            "http://127.0.0.1:80/admin/setup?code=abc"
        );
        assert_eq!(
            setup_url("[::]", 80, "x"),
            "http://[::1]:80/admin/setup?code=x"
        );
        assert_eq!(
            setup_url("[fd00::1]", 80, "x"),
            "http://[fd00::1]:80/admin/setup?code=x"
        );
        assert_eq!(
            setup_url("pi.local", 8080, "x"),
            "http://pi.local:8080/admin/setup?code=x"
        );
    }
}
