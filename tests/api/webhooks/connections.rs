//! Connections to a receiver are kept and reused, as many as there are senders.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A receiver that keeps connections open (HTTP/1.1 keep-alive, unlike `Receiver`) and
/// answers each request 200 after `delay`: the connections it accepted, the requests it
/// answered, and its URL.
fn keep_alive_receiver(delay: Duration) -> (Arc<AtomicUsize>, Arc<AtomicUsize>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (connections, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, a) = (connections.clone(), answered.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let a = a.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    // The request line, then headers up to the blank line.
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = line.trim_end().split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    std::thread::sleep(delay);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if out.write_all(answer).is_err() {
                        return;
                    }
                    a.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (connections, answered, url)
}

#[test]
fn bursts_of_deliveries_to_one_receiver_reuse_its_connections() {
    // More at a time than ureq kept for a host by default (3).
    let at_once = 6;
    let app = spawn_app_with(|s| {
        fast(s);
        s.webhooks.per_endpoint = at_once;
    });
    let (connections, answered, url) = keep_alive_receiver(Duration::from_millis(100));
    endpoint(&app, &url, &["lead.created"]);
    let token = app.admin_token();
    // Each burst keeps the endpoint's deliveries at their most at once. A sender puts its
    // connection back in the pool before its delivery's place frees up, so `at_once`
    // connections can carry every burst.
    let burst = 2 * at_once;
    for round in 1..=3 {
        let records: Vec<_> = (0..burst)
            .map(|i| json!({ "name": format!("Burst {round}, lead {i}") }))
            .collect();
        let r = app.post(
            "/api/v1/leads/batch",
            &token,
            &json!({ "records": records }),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        // At least: a delivery retried after a slow answer is answered twice.
        assert!(eventually(WAIT, || answered.load(Ordering::SeqCst) >= round * burst));
    }
    let opened = connections.load(Ordering::SeqCst);
    assert!(
        (1..=at_once).contains(&opened),
        "{opened} connections opened for {} deliveries, {at_once} at a time",
        3 * burst
    );
}
