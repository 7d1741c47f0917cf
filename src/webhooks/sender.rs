//! One HTTP attempt: sign, POST, read at most 1 KiB of the answer. Runs on a sender thread,
//! outside any transaction.

use std::io::Read;
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::unversioned::transport::DefaultConnector;

use super::address_policy::{AddressPolicy, PolicyResolver};
use super::{WebhookSettings, retry, signer};
use crate::clock;
use crate::store::deliveries::{Attempt, Claimed};

/// The most of an answer that is read and kept.
pub const RESPONSE_SNIPPET: usize = 1024;

/// What an attempt came to, beyond what is stored.
#[derive(Debug)]
pub struct Sent {
    /// What is stored about it.
    pub attempt: Attempt,
    /// The receiver asked to wait this long before the next attempt.
    pub retry_after: Option<Duration>,
}

impl Sent {
    /// Any 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.attempt.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Makes delivery attempts; shared by the sender threads.
pub struct Sender {
    agent: Agent,
}

impl Sender {
    /// An HTTP client with the delivery rules: timeouts, no redirects followed, no proxy,
    /// our user agent, and the address policy applied at connect time.
    pub fn new(settings: &WebhookSettings) -> Sender {
        let senders = settings.senders.max(1);
        let config = Agent::config_builder()
            .timeout_connect(Some(settings.timeout))
            .timeout_global(Some(settings.timeout))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            // A proxy would be resolved instead of the receiver, bypassing the address policy.
            .proxy(None)
            .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
            // Up to one idle connection per steady sender thread to one receiver (and ureq's
            // 10 in all, at least): the yielding senders add none: they send to an endpoint
            // only while none of its attempts is in flight. With ureq's default of 3 a
            // host, 4 deliveries at a time to one endpoint closed a connection after each
            // burst and opened (and TLS-handshook) another for the next.
            .max_idle_connections(senders.max(10))
            .max_idle_connections_per_host(senders)
            .build();
        let resolver = PolicyResolver::new(
            AddressPolicy {
                deny_private: settings.deny_private,
            },
            settings.resolver.clone(),
        );
        Sender {
            agent: Agent::with_parts(config, DefaultConnector::default(), resolver),
        }
    }

    /// Makes one attempt at `c`.
    pub fn send(&self, c: &Claimed) -> Sent {
        let at = clock::now_ms();
        let started = Instant::now();
        let mut sent = Sent {
            attempt: Attempt {
                at,
                status: None,
                error: None,
                response: None,
                latency_ms: 0,
            },
            retry_after: None,
        };
        let timestamp = at / 1_000;
        let mut secrets = vec![c.secret.as_str()];
        secrets.extend(c.previous_secret.as_deref());
        let signature =
            match signer::signature_header(&secrets, &c.msg_id, timestamp, c.payload.as_bytes()) {
                Ok(s) => s,
                Err(e) => {
                    sent.attempt.error = Some(e.to_string());
                    return sent;
                }
            };
        let result = self
            .agent
            .post(&c.url)
            .header("content-type", "application/json")
            .header("webhook-id", &c.msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .send(c.payload.as_bytes());
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                sent.attempt.status = Some(status);
                if retry::honours_retry_after(status) {
                    sent.retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, at));
                }
                if resp.status().is_redirection() {
                    sent.attempt.error = Some(format!(
                        "the receiver answered {status} (a redirect); redirects are not followed"
                    ));
                } else if !(200..300).contains(&status) {
                    sent.attempt.error = Some(format!("the receiver answered {status}"));
                }
                let mut buf = Vec::with_capacity(RESPONSE_SNIPPET);
                let read = resp
                    .body_mut()
                    .as_reader()
                    .take(RESPONSE_SNIPPET as u64)
                    .read_to_end(&mut buf);
                if let Err(e) = read
                    && sent.attempt.error.is_none()
                {
                    // A 2xx counts even when its body breaks off: the receiver has it.
                    tracing::debug!(delivery = c.id, error = %e, "answer body unreadable");
                }
                sent.attempt.response = Some(snippet(&buf));
            }
            Err(e) => sent.attempt.error = Some(describe(&e)),
        }
        sent.attempt.latency_ms = started.elapsed().as_millis() as i64;
        sent
    }
}

/// At most [`RESPONSE_SNIPPET`] bytes as text, cut on a character boundary.
fn snippet(buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(&buf[..buf.len().min(RESPONSE_SNIPPET)]);
    let mut end = text.len().min(RESPONSE_SNIPPET);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A failure in words for the operator (never the URL: it may carry credentials).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "the host name did not resolve".into(),
        ureq::Error::ConnectionFailed => "the connection failed".into(),
        ureq::Error::Io(io) => format!("connection error: {io}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_stop_at_a_kibibyte_on_a_character_boundary() {
        let long = "é".repeat(1_000);
        let s = snippet(long.as_bytes());
        assert!(s.len() <= RESPONSE_SNIPPET);
        assert!(s.chars().all(|c| c == 'é'));
        assert_eq!(snippet(b"ok"), "ok");
    }
}
