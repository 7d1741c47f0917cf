//! The prune: the run of old ids it takes, the ranges left empty, and the plans of its statements.

use super::*;

/// The blocks `audit_account_ranges` holds rows of.
fn account_blocks(conn: &Connection) -> Vec<i64> {
    let mut blocks: Vec<i64> = stored_account_ranges(conn).iter().map(|r| r.0).collect();
    blocks.dedup();
    blocks
}

#[test]
fn the_prune_takes_the_run_of_old_ids_and_the_ranges_left_empty() {
    let conn = migrated();
    calls_over_blocks(&conn);
    let log = stored_log(&conn);
    let ids = |log: &[AuditEntry]| -> Vec<i64> { log.iter().map(|e| e.id).collect() };
    // The run ends at call 100, the first stamped at the cutoff. The late calls after it
    // (109, 119, ... 159: a minute older than their neighbours) and the second row that
    // moved the ids on wait for their neighbours; calls 0-99 and the first such row go.
    let cutoff = 1_100_000;
    let stop = log
        .iter()
        .filter(|e| e.at >= cutoff)
        .map(|e| e.id)
        .min()
        .unwrap();
    let (gone, kept): (Vec<_>, Vec<_>) = log
        .iter()
        .cloned()
        .partition(|e| e.id < stop && e.at < cutoff);
    assert_eq!(gone.len(), 101);
    assert_eq!(kept.iter().filter(|e| e.at < cutoff).count(), 7);
    let now = 2_000_000;
    assert_eq!(old_run_end(&conn, cutoff, now).unwrap(), stop);
    assert_eq!(prune(&conn, cutoff, stop, 10_000).unwrap(), gone.len());
    assert_eq!(ids(&stored_log(&conn)), ids(&kept));
    assert_eq!(blocks(&conn), [1, 2], "block 0 keeps no call");
    assert_eq!(account_blocks(&conn), [1, 2]);
    for token in [1, 4] {
        let want: Vec<i64> = kept
            .iter()
            .filter(|e| e.token_id == Some(TokenId(token)))
            .map(|e| e.id)
            .collect();
        assert_eq!(all_pages(&conn, Whose::Token(token), None, None, 7), want);
    }
    // In passes of at most 20 rows, as the upkeep prunes: the late calls go with the run
    // they sit in.
    let cutoff = 1_170_000;
    let end = old_run_end(&conn, cutoff, now).unwrap();
    let mut writes = vec![];
    loop {
        let n = prune(&conn, cutoff, end, 20).unwrap();
        writes.push(n);
        if n < 20 {
            break;
        }
    }
    assert_eq!(
        writes,
        [20, 20, 20, 11],
        "calls 100-169 and the second row of no account: 71"
    );
    let left = stored_log(&conn);
    let first_kept = left.iter().map(|e| e.id).min().unwrap();
    assert!(
        log.iter()
            .filter(|e| e.id < first_kept)
            .all(|e| e.at < cutoff),
        "nothing newer than the cutoff went"
    );
    assert_eq!(
        left.iter().filter(|e| e.at < cutoff).count(),
        6,
        "calls 179-229 wait"
    );
    assert_eq!(old_run_end(&conn, i64::MAX, i64::MAX).unwrap(), i64::MAX);
    prune(&conn, i64::MAX, i64::MAX, 10_000).unwrap();
    assert!(stored_log(&conn).is_empty());
    assert_eq!(
        blocks(&conn),
        Vec::<i64>::new(),
        "an empty log has no ranges"
    );
    assert_eq!(account_blocks(&conn), Vec::<i64>::new());
}

#[test]
fn a_call_stamped_in_the_future_does_not_end_the_prunes_run() {
    let conn = migrated();
    let ats = [1_000, 2_000, 1_000_000_000, 3_000, 9_000, 3_500];
    insert_many(&conn, &ats.map(|at| entry(at, Some(1), 200))).unwrap();
    // Now is 10,000: the call stamped at 1,000,000,000 came from a clock set ahead. The run
    // ends at the call of 9,000; the one of 3,500, answered after it, waits.
    let end = old_run_end(&conn, 4_000, 10_000).unwrap();
    assert_eq!(end, 5);
    assert_eq!(prune(&conn, 4_000, end, 100).unwrap(), 3);
    let left: Vec<i64> = stored_log(&conn).iter().map(|e| e.at).collect();
    assert_eq!(left, [3_500, 9_000, 1_000_000_000]);
    // With no call between the cutoff and now, every old call goes.
    let end = old_run_end(&conn, 4_000, 8_000).unwrap();
    assert_eq!(end, i64::MAX);
    assert_eq!(prune(&conn, 4_000, end, 100).unwrap(), 1);
}

#[test]
fn the_prune_reads_ranges_of_ids_not_the_whole_log() {
    let conn = migrated();
    let plan = |sql: &str| -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let args = 1..=explain.parameter_count() as i64;
        explain
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let end = plan(OLD_RUN_END);
    assert!(
        end.contains("SEARCH audit_log USING INTEGER PRIMARY KEY (rowid>?)"),
        "{end}"
    );
    let prune = plan(PRUNE);
    assert!(
        prune.contains("SEARCH audit_log USING INTEGER PRIMARY KEY (rowid<?)"),
        "{prune}"
    );
    for p in [end, prune] {
        assert!(!p.contains("SCAN audit_log"), "{p}");
        assert!(!p.contains("INDEX"), "the log has no index of times: {p}");
    }
}
