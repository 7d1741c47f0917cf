//! A real HTTP receiver in the test process: a std `TcpListener` on a thread, answering each
//! request as the test's script says and keeping what arrived.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Answer {
    /// An immediate answer with this status.
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answers after `delay`.
    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

type Script = dyn Fn(usize) -> Answer + Send + Sync;

/// A receiver listening on loopback.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    /// The port.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// Answers every request 200.
    pub fn ok() -> Receiver {
        Receiver::scripted(|_| Answer::status(200))
    }

    /// Answers the n-th request (0-based) as `script` says.
    pub fn scripted(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").expect("bind"), script)
    }

    /// Serves on `listener`.
    pub fn on(
        listener: TcpListener,
        script: impl Fn(usize) -> Answer + Send + Sync + 'static,
    ) -> Receiver {
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let counter = Arc::new(Mutex::new(0usize));
        let (r, s) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (r, script, counter) = (r.clone(), script.clone(), counter.clone());
                // One thread per connection: a slow answer must not hold up the next request.
                std::thread::spawn(move || serve(stream, &r, &*script, &counter));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            received,
            stop,
        }
    }

    /// What arrived so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock `accept`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, received: &Mutex<Vec<Received>>, script: &Script, n: &Mutex<usize>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return; // a bare connect (the drop above)
    }
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let index = {
        let mut n = n.lock().unwrap();
        *n += 1;
        *n - 1
    };
    received.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    let answer = script(index);
    std::thread::sleep(answer.delay);
    let mut out = format!(
        "HTTP/1.1 {} X\r\ncontent-length: 2\r\nconnection: close\r\n",
        answer.status
    );
    for (k, v) in &answer.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\nok");
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
}
