//! Wall-clock time as the product stores and shows it: integer milliseconds since the
//! Unix epoch in the database, RFC 3339 UTC with millisecond precision on the outside.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, macros::format_description};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats milliseconds since the epoch as RFC 3339 UTC, e.g. `2026-11-28T05:50:04.123Z`.
///
/// Every record answered carries two or more of these (a page of 50, a hundred): a direct
/// calendar computation instead of the `time` crate's general formatter.
pub fn format_ms(ms: Millis) -> String {
    let mut out = String::with_capacity(24);
    push_ms(&mut out, ms);
    out
}

/// An instant that serializes as `format_ms` formats it: how records were written through
/// serde, kept as the tests' reference for `resources::json`.
#[cfg(test)]
pub struct Stamp(pub Millis);

#[cfg(test)]
impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0; 24];
        match write_ms(self.0, &mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&format_ms_general(self.0)),
        }
    }
}

/// Appends `format_ms`'s text to `out`.
pub fn push_ms(out: &mut String, ms: Millis) {
    let mut buf = [0; 24];
    match write_ms(ms, &mut buf) {
        Some(text) => out.push_str(text),
        None => out.push_str(&format_ms_general(ms)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` into `buf`; `None` outside years 0000-9999. Two digits at a
/// time from a table: every record shown carries two of these, and every log line one.
pub(crate) fn write_ms(ms: Millis, buf: &mut [u8; 24]) -> Option<&str> {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    *buf = *b"0000-00-00T00:00:00.000Z";
    for (at, n) in [
        (0, year / 100),
        (2, year % 100),
        (5, month),
        (8, day),
        (11, ms_of_day / 3_600_000),
        (14, ms_of_day / 60_000 % 60),
        (17, ms_of_day / 1_000 % 60),
        (21, ms_of_day % 100),
    ] {
        // Every `n` is in 0..100.
        let pair = 2 * n as usize;
        buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    buf[20] = b'0' + (ms_of_day % 1_000 / 100) as u8;
    std::str::from_utf8(buf).ok()
}

/// `00`, `01`, ... `99`, one after another.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut n = 0;
    while n < 100 {
        pairs[2 * n] = b'0' + (n / 10) as u8;
        pairs[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    pairs
};

/// (year, month, day) of the proleptic Gregorian calendar, `days` after 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The general formatter, for instants outside years 0000-9999.
fn format_ms_general(ms: Millis) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// The first instant `format_ms` can show: `0000-01-01T00:00:00.000Z`.
pub const MIN_MS: Millis = -62_167_219_200_000;
/// The last instant `format_ms` can show: `9999-12-31T23:59:59.999Z`.
pub const MAX_MS: Millis = 253_402_300_799_999;

/// Parses an RFC 3339 instant (any offset) into milliseconds since the epoch.
/// Years outside 0000..=9999 are refused, as RFC 3339 does, and so is an instant that
/// leaves that range once converted to UTC (`9999-12-31T23:00:00-05:00`): it could not be
/// shown back.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .filter(|ms| (MIN_MS..=MAX_MS).contains(ms))
}

/// Parses a calendar date `YYYY-MM-DD`, returning it normalised.
pub fn parse_date(s: &str) -> Option<String> {
    let fmt = format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).ok()?;
    d.format(&fmt).ok()
}

/// Parses a duration such as `30s`, `15m`, `24h` or `90d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit_at = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(unit_at);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3_600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs > 0 && secs <= 100 * 365 * 86_400).then(|| Duration::from_secs(secs))
}

/// Formats a duration the way `parse_duration` reads it, in its largest exact unit.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_formatter_agrees_with_the_general_one() {
        let mut samples = vec![
            0,
            -1,
            1,
            86_399_999,
            86_400_000,
            951_782_400_000,   // 2000-02-29
            4_107_542_400_000, // 2100-03-01
            MAX_MS,
            MIN_MS,
            MAX_MS + 1,
            MIN_MS - 1,
        ];
        // A deterministic walk over ten millennia in uneven steps.
        let mut t = MIN_MS;
        while t < MAX_MS {
            samples.push(t);
            t += 7_919_999_937;
        }
        for ms in samples {
            assert_eq!(format_ms(ms), format_ms_general(ms), "{ms}");
            let json = serde_json::to_string(&Stamp(ms)).unwrap();
            assert_eq!(json, format!("\"{}\"", format_ms_general(ms)), "{ms}");
        }
    }

    #[test]
    fn instants_round_trip_through_rfc3339() {
        let ms = 1_764_309_004_123;
        assert_eq!(parse_rfc3339(&format_ms(ms)), Some(ms));
        assert_eq!(
            parse_rfc3339("2026-01-01T01:00:00+01:00"),
            parse_rfc3339("2026-01-01T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("2026-01-01"), None);
    }

    #[test]
    fn instants_that_leave_years_0000_to_9999_in_utc_are_refused() {
        // Found with the fuzz targets' round-trip check (fuzz/src/lib.rs): these were
        // accepted, then shown as `1970-01-01T00:00:00.000Z` and `-0001-12-31T23:00:00.000Z`.
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59-01:00"), None);
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00+01:00"), None);
        for edge in ["0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"] {
            let ms = parse_rfc3339(edge).expect(edge);
            assert!([MIN_MS, MAX_MS].contains(&ms));
            assert_eq!(format_ms(ms), edge);
        }
        assert_eq!(
            parse_rfc3339("9999-12-31T22:59:59-01:00"),
            Some(MAX_MS - 999)
        );
    }

    #[test]
    fn durations_parse_in_every_unit_and_refuse_the_rest() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(
            parse_duration("90d"),
            Some(Duration::from_secs(90 * 86_400))
        );
        for bad in [
            "",
            "d",
            "10",
            "10w",
            "-5s",
            "0s",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(90 * 86_400)), "90d");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn dates_must_be_real_calendar_days() {
        assert_eq!(parse_date("2026-02-28").as_deref(), Some("2026-02-28"));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("26-2-3"), None);
    }
}
