use super::*;

fn call(n: i64) -> CallRecord {
    CallRecord {
        at: n,
        token: None,
        admitted: false,
        rate_limited: false,
        method: "GET".into(),
        path: "/api/v1/leads".into(),
        status: 401,
        code: Some("missing_token"),
        ip: Some(IpAddr::from([127, 0, 0, 1])),
        latency_us: 1,
    }
}

#[test]
fn a_flush_adds_up_each_token_once_whatever_its_size() {
    let token = |id: i64| Some((TokenId(id), format!("pfx{id}"), UserId(1), AccountId(1)));
    let (ip1, ip2) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
    // 1,000 calls of two tokens over two UTC days, from two addresses; some refused.
    let batch: Vec<CallRecord> = (0..1_000i64)
        .map(|n| CallRecord {
            at: DAY_MS - 500 + n,
            token: token(n % 2),
            admitted: n % 10 != 0,
            rate_limited: n % 10 == 0,
            status: if n % 10 == 0 {
                429
            } else if n % 7 == 0 {
                404
            } else {
                200
            },
            code: None,
            ip: Some(if n < 500 { ip1 } else { ip2 }),
            ..call(n)
        })
        .collect();
    let mut notified = HashMap::new();
    let t = Tally::of(&batch, &mut notified);
    // One counter row per (token, day), whose sums are the calls.
    assert_eq!(t.usage.len(), 4);
    let sum = |f: fn(&(i64, i64, i64)) -> i64| t.usage.values().map(f).sum::<i64>();
    assert_eq!(sum(|c| c.0), 1_000);
    assert_eq!(sum(|c| c.2), 100);
    let errors = (0..1_000).filter(|n| n % 10 != 0 && n % 7 == 0).count() as i64;
    assert_eq!(sum(|c| c.1), errors);
    // One stamp per token: its latest admitted call.
    assert_eq!(t.last_used.len(), 2);
    assert_eq!(t.last_used[&TokenId(1)], (DAY_MS - 500 + 999, Some(ip2)));
    assert_eq!(t.last_used[&TokenId(0)].0, DAY_MS - 500 + 998);
    // Each address once per token, at its first admitted call.
    assert_eq!(t.seen.len(), 4);
    assert_eq!(t.seen[&(TokenId(0), Some(ip1))].0, DAY_MS - 500 + 2);
    // One rate-limit event per token, and none again within the hour.
    assert_eq!(t.limited.len(), 1);
    assert!(Tally::of(&batch, &mut notified).limited.is_empty());
}

/// Flushes 2,048 records on `store`; the writes it took.
fn writes_to_flush(store: &Store) -> u64 {
    let stats = RecorderStats::default();
    flush(
        store,
        (0..2_048).map(call).collect(),
        &stats,
        &mut HashMap::new(),
    );
    assert_eq!(stats.written.load(Ordering::Relaxed), 2_048);
    stats.flushes.load(Ordering::Relaxed)
}

#[test]
fn audit_rows_go_in_larger_writes_when_no_other_write_waits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), 1, None).unwrap();
    assert_eq!(writes_to_flush(&store), 2, "two writes of 1,024");
    // The two share one commit: the first is left uncommitted for the second. (The writer
    // commits a transaction nobody waits on after a few milliseconds anyway, which a slow
    // machine may take between the two: a few tries.)
    let mut flushed = 2_048;
    let shared = (0..5).any(|_| {
        let before = store.writer().stats().commits;
        writes_to_flush(&store);
        flushed += 2_048;
        store.writer().stats().commits - before == 1
    });
    assert!(shared, "a flush's writes committed one by one");

    // Hold the writer with a write, and queue another behind it.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, has_started) = std::sync::mpsc::channel::<()>();
    let writer = store.writer().clone();
    let holder = std::thread::spawn(move || {
        writer.write_blocking(move |_| -> Result<(), StoreError> {
            let _ = started.send(());
            let _ = held.recv();
            Ok(())
        })
    });
    has_started.recv().unwrap();
    store
        .writer()
        .submit(|_| -> Result<(), StoreError> { Ok(()) })
        .unwrap();
    // Let the writer go once the flush's first write waits behind them.
    let writer = store.writer().clone();
    let releaser = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while writer.queued() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        release.send(()).unwrap();
    });
    // 256 while a write waited, then 1,024 and the last 768 once none did.
    assert_eq!(writes_to_flush(&store), 3);
    releaser.join().unwrap();
    holder.join().unwrap().unwrap();
    assert_eq!(
        store
            .read(
                |c| Ok(c.query_row("SELECT count(*) FROM audit_log", [], |r| r.get::<_, i64>(0))?)
            )
            .unwrap(),
        flushed + 2_048
    );
    store.writer().shutdown();
}

#[test]
fn a_batch_is_taken_whole_at_the_deadline() {
    let (recorder, records) = Recorder::new();
    for n in 0..10 {
        recorder.record(call(n));
    }
    let stop = Stop::default();
    let started = Instant::now();
    let batch = records.next_batch(started + Duration::from_millis(50), &stop);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        batch.iter().map(|r| r.at).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(recorder.queued().0, 0);
}

#[test]
fn a_large_queue_is_taken_before_the_deadline() {
    let (recorder, records) = Recorder::new();
    let filler = std::thread::spawn(move || {
        for n in 0..FLUSH_AT as i64 {
            recorder.record(call(n));
        }
        recorder
    });
    let stop = Stop::default();
    let started = Instant::now();
    let mut taken = 0;
    while taken < FLUSH_AT {
        taken += records
            .next_batch(started + Duration::from_secs(60), &stop)
            .len();
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(filler.join());
}

#[test]
fn records_beyond_the_capacity_are_dropped_and_counted() {
    let (recorder, _records) = Recorder::new();
    for n in 0..(QUEUE_CAPACITY + 7) as i64 {
        recorder.record(call(n));
    }
    assert_eq!(recorder.queued(), (QUEUE_CAPACITY, QUEUE_CAPACITY));
    assert_eq!(recorder.stats().dropped.load(Ordering::Relaxed), 7);
    assert_eq!(
        recorder.stats().recorded.load(Ordering::Relaxed),
        QUEUE_CAPACITY as u64
    );
}

#[test]
fn the_stop_ends_the_wait_at_once() {
    let (recorder, records) = Recorder::new();
    let stop = Stop::default();
    records.wake_on(&stop);
    recorder.record(call(1));
    let (entered, told) = std::sync::mpsc::channel();
    let waiter = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            entered.send(()).unwrap();
            let started = Instant::now();
            let batch = records.next_batch(started + Duration::from_secs(60), &stop);
            (batch.len(), started.elapsed())
        })
    };
    told.recv().unwrap();
    // Time for the flusher to wait: only makes it likely that the stop finds it waiting.
    std::thread::sleep(Duration::from_millis(20));
    stop.stop();
    let (taken, took) = waiter.join().unwrap();
    assert_eq!(taken, 1, "what was queued is taken for the last flush");
    assert!(
        took < Duration::from_secs(30),
        "the wait ended after {took:?}"
    );
}
