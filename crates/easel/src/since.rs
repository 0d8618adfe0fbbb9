//! Reading "since" filters: an RFC 3339 time, or an age such as "2h" or "7d".

use crate::clock::{now_ms, parse_utc_lenient};
use crate::request::InvalidInput;

/// Milliseconds since the epoch that `text` names.
pub fn parse_since(field: &'static str, text: &str) -> Result<u64, InvalidInput> {
    let t = text.trim();
    if let Ok(age) = humantime::parse_duration(t) {
        return Ok(now_ms().saturating_sub(age.as_millis() as u64));
    }
    parse_utc_lenient(t).ok_or_else(|| {
        InvalidInput::new(
            field,
            format!("{text:?} is neither a time nor an age"),
            "Give a time like \"2026-11-21T08:00:00Z\" or an age like \"30m\", \"2h\", \"7d\".",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times() {
        let now = now_ms();
        let two_hours = parse_since("since", "2h").expect("age");
        assert!((now - two_hours).abs_diff(7_200_000) < 5_000);
        assert_eq!(
            parse_since("since", "1970-01-01T00:00:01Z").expect("time"),
            1000
        );
        let e = parse_since("since", "yesterday-ish").expect_err("bad");
        assert_eq!(e.field, "since");
    }
}
