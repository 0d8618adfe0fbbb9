//! `schedule_at` (contract 5.2 step 3): Go's `time.Parse(time.RFC3339, …)` with its exact
//! error texts, the 1 hour to 14 days range, and the `2006-01-02 15:04` formatting the
//! messages use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Go's `time.RFC3339` layout, quoted in parse errors.
const LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

/// An instant with the UTC offset it was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instant {
    /// Nanoseconds since the Unix epoch.
    pub unix_nanos: i128,
    /// Seconds east of UTC.
    pub offset: i32,
}

/// Checks `text` against the service's rules; the error is the `details` text.
pub fn check(text: &str, now: SystemTime) -> Result<Instant, String> {
    let at = parse(text)
        .map_err(|error| format!("定时发布时间格式错误，请使用 ISO8601 格式: {error}"))?;
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    const HOUR: i128 = 3_600_000_000_000;
    let earliest = now + HOUR;
    let latest = now + 14 * 24 * HOUR;
    // The service formats "now + …" in its own time zone; the simulator uses the
    // request's offset, which is the same for a service in the client's time zone.
    let shown = |unix_nanos: i128| {
        format_minutes(Instant {
            unix_nanos,
            offset: at.offset,
        })
    };
    if at.unix_nanos < earliest {
        return Err(format!(
            "定时发布时间必须至少在1小时后，当前设置: {}，最早可选: {}",
            format_minutes(at),
            shown(earliest)
        ));
    }
    if at.unix_nanos > latest {
        return Err(format!(
            "定时发布时间不能超过14天，当前设置: {}，最晚可选: {}",
            format_minutes(at),
            shown(latest)
        ));
    }
    Ok(at)
}

/// `t.Format("2006-01-02 15:04")` in the instant's own offset.
pub fn format_minutes(at: Instant) -> String {
    let local = at.unix_nanos.div_euclid(1_000_000_000) + i128::from(at.offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// Go's `time.Parse(time.RFC3339, text)`, error texts included.
pub fn parse(text: &str) -> Result<Instant, String> {
    let error = |value_elem: &str, layout_elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            quote(text),
            quote(LAYOUT),
            quote(value_elem),
            quote(layout_elem)
        )
    };
    let range = |what: &str| format!("parsing time {}: {what} out of range", quote(text));
    let mut value = text;

    // 2006
    if value.len() < 4 || !value.as_bytes()[0].is_ascii_digit() {
        return Err(error(value, "2006"));
    }
    let year: i64 = match value
        .get(..4)
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        Some(p) => p.parse().map_err(|_| error(value, "2006"))?,
        None => return Err(error(value, "2006")),
    };
    value = &value[4..];
    value = skip(value, "-").ok_or_else(|| error(value, "-"))?;
    let (month, rest) = getnum(value, true).ok_or_else(|| error(value, "01"))?;
    if !(1..=12).contains(&month) {
        return Err(range("month"));
    }
    value = rest;
    value = skip(value, "-").ok_or_else(|| error(value, "-"))?;
    let (day, rest) = getnum(value, true).ok_or_else(|| error(value, "02"))?;
    value = rest;
    value = skip(value, "T").ok_or_else(|| error(value, "T"))?;
    let (hour, rest) = getnum(value, false).ok_or_else(|| error(value, "15"))?;
    if hour >= 24 {
        return Err(range("hour"));
    }
    value = rest;
    value = skip(value, ":").ok_or_else(|| error(value, ":"))?;
    let (minute, rest) = getnum(value, true).ok_or_else(|| error(value, "04"))?;
    if minute >= 60 {
        return Err(range("minute"));
    }
    value = rest;
    value = skip(value, ":").ok_or_else(|| error(value, ":"))?;
    let (second, rest) = getnum(value, true).ok_or_else(|| error(value, "05"))?;
    if second >= 60 {
        return Err(range("second"));
    }
    value = rest;
    // A fractional second the layout does not mention is still accepted.
    let mut nanos: i128 = 0;
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && matches!(bytes[0], b'.' | b',') && bytes[1].is_ascii_digit() {
        let n = 1 + bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n - 1 > 9 {
            return Err(range("fractional second"));
        }
        let digits = &value[1..n];
        let scale = 10i128.pow(9 - digits.len() as u32);
        nanos = digits.parse::<i128>().unwrap_or(0) * scale;
        value = &value[n..];
    }
    // Z07:00
    let offset: i32;
    let hold = value;
    if let Some(rest) = value.strip_prefix('Z') {
        offset = 0;
        value = rest;
    } else {
        let b = value.as_bytes();
        if b.len() < 6 || b[3] != b':' {
            return Err(error(hold, "Z07:00"));
        }
        let part = |range: std::ops::Range<usize>| {
            value
                .get(range)
                .and_then(|p| getnum(p, true))
                .map(|(n, _)| n)
                .ok_or_else(|| error(hold, "Z07:00"))
        };
        let hh = part(1..3)?;
        let mm = part(4..6)?;
        if hh > 24 {
            return Err(range("time zone offset hour"));
        }
        if mm > 60 {
            return Err(range("time zone offset minute"));
        }
        let magnitude = (hh * 60 + mm) as i32 * 60;
        offset = match b[0] {
            b'+' => magnitude,
            b'-' => -magnitude,
            _ => return Err(error(hold, "Z07:00")),
        };
        value = value.get(6..).ok_or_else(|| error(hold, "Z07:00"))?;
    }
    if !value.is_empty() {
        return Err(format!(
            "parsing time {}: extra text: {}",
            quote(text),
            quote(value)
        ));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(range("day"));
    }
    let days = days_from_civil(year, month, day);
    let secs = i128::from(days) * 86_400 + i128::from(hour * 3600 + minute * 60 + second)
        - i128::from(offset);
    Ok(Instant {
        unix_nanos: secs * 1_000_000_000 + nanos,
        offset,
    })
}

/// Go's `skip` for a one-byte literal.
fn skip<'a>(value: &'a str, literal: &str) -> Option<&'a str> {
    value.strip_prefix(literal)
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(value: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = value.as_bytes();
    let first = *b.first().filter(|c| c.is_ascii_digit())?;
    match b.get(1).filter(|c| c.is_ascii_digit()) {
        Some(second) => Some((
            i64::from(first - b'0') * 10 + i64::from(second - b'0'),
            &value[2..],
        )),
        None if fixed => None,
        None => Some((i64::from(first - b'0'), &value[1..])),
    }
}

/// Go's `time` package `quote`: ASCII as is (with `"` and `\` escaped), every byte of
/// other characters as `\xNN`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && c >= ' ' {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        }
    }
    out.push('"');
    out
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_formats_in_them() {
        let at = parse("2026-09-01T10:30:00+08:00").expect("valid");
        assert_eq!(at.offset, 8 * 3600);
        assert_eq!(at.unix_nanos, 1_788_229_800 * 1_000_000_000);
        assert_eq!(format_minutes(at), "2026-09-01 10:30");
        let z = parse("2026-09-01T02:30:00.5Z").expect("valid");
        assert_eq!(z.unix_nanos, at.unix_nanos + 500_000_000);
        assert_eq!(format_minutes(z), "2026-09-01 02:30");
    }

    #[test]
    fn go_error_texts() {
        assert_eq!(
            parse("2026-09-01T10:30:00").expect_err("no offset"),
            r#"parsing time "2026-09-01T10:30:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#
        );
        assert_eq!(
            parse("tomorrow").expect_err("words"),
            r#"parsing time "tomorrow" as "2006-01-02T15:04:05Z07:00": cannot parse "tomorrow" as "2006""#
        );
        assert_eq!(
            parse("2026-09-01 10:30:00+08:00").expect_err("space"),
            r#"parsing time "2026-09-01 10:30:00+08:00" as "2006-01-02T15:04:05Z07:00": cannot parse " 10:30:00+08:00" as "T""#
        );
        assert_eq!(
            parse("2026-13-01T10:30:00Z").expect_err("month"),
            r#"parsing time "2026-13-01T10:30:00Z": month out of range"#
        );
        assert_eq!(
            parse("2026-02-30T10:30:00Z").expect_err("day"),
            r#"parsing time "2026-02-30T10:30:00Z": day out of range"#
        );
        assert_eq!(
            parse("明天").expect_err("cjk"),
            r#"parsing time "\xe6\x98\x8e\xe5\xa4\xa9" as "2006-01-02T15:04:05Z07:00": cannot parse "\xe6\x98\x8e\xe5\xa4\xa9" as "2006""#
        );
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 59, 60, 11_016, 20_697] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
