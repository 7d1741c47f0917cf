//! How a failed command says why: one line on stderr, each cause stated once.

/// The error and its causes on one line. A cause already said by the message before it is
/// left out: several error types print their source inside their own message (`"{what}:
/// {source}"`) and return it as `source()` too. SQLite's code under a rusqlite error ("Error
/// code 14: unable to open database file") is left out as well: rusqlite's message is
/// SQLite's own, or that code when there is none.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        if cause.is::<rusqlite::ffi::Error>() {
            continue;
        }
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on {addr}: {source}")]
    struct Bind {
        addr: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_the_message_already_states_is_not_repeated() {
        let bind = Bind {
            addr: "127.0.0.1:80".into(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        let e = anyhow::Error::new(bind).context("serve");
        assert_eq!(
            one_line(&e),
            format!(
                "serve: cannot listen on 127.0.0.1:80: {}",
                std::io::Error::from(std::io::ErrorKind::AddrInUse)
            )
        );
        let sqlite = rusqlite::Connection::open_in_memory()
            .unwrap()
            .execute("SELECT * FROM nowhere", [])
            .unwrap_err();
        let e = anyhow::Error::new(sqlite).context("database x.db");
        assert_eq!(one_line(&e), "database x.db: no such table: nowhere");
        let e = anyhow::anyhow!("first\nsecond").context("outer");
        assert_eq!(one_line(&e), "outer: first second");
    }
}
