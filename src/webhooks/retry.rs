//! When to try again: the retry schedule with jitter, and the receiver's `Retry-After`.

use std::time::Duration;

use time::OffsetDateTime;
use time::macros::format_description;

/// The longest wait a `Retry-After` may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3_600);

/// The wait before the next attempt after `attempts` failed ones (counted since the schedule
/// last started), or `None` when the schedule is used up. The scheduled delay is spread by
/// ±20 % so receivers coming back up are not hit by every retry at the same instant; a
/// `Retry-After` longer than that is honoured (up to a day).
pub fn next_delay(
    schedule: &[Duration],
    attempts: usize,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(attempts.checked_sub(1)?)?;
    let jittered = base.mul_f64(rand::random_range(0.8..1.2));
    Some(match retry_after {
        Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// Whether a `Retry-After` on this status is honoured.
pub fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Parses `Retry-After`: delay-seconds or an HTTP date, relative to `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, &fmt)
        .ok()?
        .assume_utc();
    let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_followed_with_jitter_then_ends() {
        let schedule = crate::webhooks::default_retry_schedule();
        for (i, base) in schedule.iter().enumerate() {
            let d = next_delay(&schedule, i + 1, None).unwrap();
            assert!(
                d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2),
                "{i}: {d:?}"
            );
        }
        assert_eq!(next_delay(&schedule, schedule.len() + 1, None), None);
        assert_eq!(next_delay(&schedule, 0, None), None);
    }

    #[test]
    fn a_longer_retry_after_wins_but_is_capped_at_a_day() {
        let schedule = [Duration::from_secs(5)];
        let d = next_delay(&schedule, 1, Some(Duration::from_secs(120))).unwrap();
        assert_eq!(d, Duration::from_secs(120));
        let d = next_delay(&schedule, 1, Some(Duration::from_secs(10 * 86_400))).unwrap();
        assert_eq!(d, MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
