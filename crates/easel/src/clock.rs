//! Time, in the one place easel reads and writes it: wall-clock milliseconds since the Unix
//! epoch (what the job store records), RFC 3339 for people and clients (strict with an offset
//! for `schedule_at`, as Go's `time.RFC3339` reads it; lenient for "since" filters), sortable
//! UTC stamps for file and folder names, and Go duration strings (the QR code's `"4m0s"`).
//! Small enough not to need a date library.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the epoch for `text`, which must carry `Z` or a `±HH:MM` offset:
/// without one the instant is ambiguous (the service would reject it too).
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (local, offset_secs) = if let Some(local) = t.strip_suffix(['Z', 'z']) {
        (local, 0)
    } else {
        let cut = t.len().checked_sub(6).filter(|&c| t.is_char_boundary(c));
        let parsed = cut.and_then(|c| {
            let off = &t[c..];
            let b = off.as_bytes();
            let sign = match b[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if b[3] != b':' {
                return None;
            }
            let hours: i64 = off[1..3].parse().ok()?;
            let minutes: i64 = off[4..6].parse().ok()?;
            (hours < 24 && minutes < 60).then_some((&t[..c], sign * (hours * 3600 + minutes * 60)))
        });
        match parsed {
            Some(p) => p,
            None => {
                return Err(
                    "has no time-zone offset; end it with Z (UTC) or an offset such as +08:00"
                        .into(),
                );
            }
        }
    };
    if local
        .as_bytes()
        .get(10)
        .is_none_or(|b| !matches!(b, b'T' | b't'))
    {
        return Err("is not an RFC 3339 time (expected YYYY-MM-DDTHH:MM:SS)".into());
    }
    let at = humantime::parse_rfc3339_weak(local)
        .map_err(|e| format!("is not a valid RFC 3339 time ({e})"))?;
    let ms = match at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    };
    Ok(ms - offset_secs * 1000)
}

/// `2026-09-01T10:30:00Z` for milliseconds since the epoch (the store's `u64` or publishing's
/// signed `i64`), for messages people read; an instant before the epoch shows as the epoch.
pub fn format_utc(ms: impl Into<i128>) -> String {
    let ms = u64::try_from(ms.into().max(0)).unwrap_or(u64::MAX);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `2026-09-01T10:30:00.123Z` for milliseconds since the epoch, where a client compares
/// instants (task envelopes).
pub fn format_utc_millis(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Milliseconds since the epoch for `text` read leniently: RFC 3339 in UTC, the `Z` and the
/// `T` optional (filters people type by hand); `None` when it is not such a time.
pub fn parse_utc_lenient(text: &str) -> Option<u64> {
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
}

/// `20260901-103000` (UTC), for file and folder names that sort by time.
pub fn stamp(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let time = secs.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

/// Gregorian (year, month, day) for days since 1970-01-01 (Howard Hinnant's algorithm), so
/// names need no date library.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A Go `time.Duration` string such as `"4m0s"`, `"1h2m3.5s"` or `"300ms"`; a bare number
/// is seconds (older builds' documentation shows `"300"`).
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return (secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut rest = t;
    let mut total = 0.0_f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_applied() {
        let utc = parse_rfc3339("2026-09-02T02:30:00Z").expect("utc");
        assert_eq!(parse_rfc3339("2026-09-02T10:30:00+08:00"), Ok(utc));
        assert_eq!(parse_rfc3339("2026-09-01T21:30:00-05:00"), Ok(utc));
        assert_eq!(format_utc(utc), "2026-09-02T02:30:00Z");
        assert!(parse_rfc3339("2026-09-02T10:30:00").is_err());
        assert!(parse_rfc3339("2026-09-02 10:30:00Z").is_err());
        assert!(parse_rfc3339("tomorrow+08:00").is_err());
        assert!(parse_rfc3339("2026-13-02T10:30:00Z").is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("4m0s"), Some(Duration::from_secs(240)));
        assert_eq!(parse_go_duration("0s"), Some(Duration::ZERO));
        assert_eq!(
            parse_go_duration("1h2m3.5s"),
            Some(Duration::from_millis(3_723_500))
        );
        assert_eq!(parse_go_duration("300"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn stamps_sort_by_time() {
        assert_eq!(
            stamp(UNIX_EPOCH + Duration::from_secs(1_788_000_000)),
            "20260829-104000"
        );
    }
}
