//! The query of `/gallery/api/jobs`, read strictly: bounded, every parameter known, each
//! value checked, so a mistyped filter is an error naming it rather than a silently wider
//! listing.

use base64::Engine as _;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;

use super::error::ApiError;
use crate::clock::parse_utc_lenient;
use crate::jobs::{JobFilter, JobStatus};

/// Longest query string accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 2048;
/// Longest value of one parameter, in characters (after decoding).
const MAX_VALUE_CHARS: usize = 300;
pub const DEFAULT_LIMIT: usize = 40;
pub const MAX_LIMIT: usize = 100;
const PARAMS: &[&str] = &[
    "status", "backend", "model", "batch", "q", "since", "until", "cursor", "limit",
];

/// `%XX` and `+` decoded; `None` when the result is not UTF-8 or an escape is broken.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `name=value` pairs of a query string or form body, decoded; each name once, only
/// `allowed` names.
pub fn pairs(raw: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(ApiError::too_large(format!(
            "query: {} bytes is over the limit of {MAX_QUERY_BYTES}. Use shorter filters.",
            raw.len()
        )));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let bad = |what: &str| {
            ApiError::bad(format!(
                "query: {what} is not valid percent-encoded UTF-8. Encode the value with encodeURIComponent."
            ))
        };
        let name = percent_decode(name).ok_or_else(|| bad("a name"))?;
        let value = percent_decode(value).ok_or_else(|| bad(&format!("the value of {name:?}")))?;
        if !allowed.contains(&name.as_str()) {
            let shown: String = name.chars().take(40).collect();
            return Err(ApiError::bad(format!(
                "{shown:?}: is not a parameter here. Use only: {}.",
                allowed.join(", ")
            )));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(ApiError::bad(format!(
                "{name}: is longer than {MAX_VALUE_CHARS} characters. Shorten it."
            )));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::bad(format!(
                "{name}: is given twice. Give it once (statuses as one comma list)."
            )));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// A page of jobs, as asked.
pub struct Listing {
    pub filter: JobFilter,
    pub limit: usize,
}

/// The filter the query asks for. The store is asked for one job more than the page, to
/// know whether there is a next page.
pub fn listing(raw: Option<&str>) -> Result<Listing, ApiError> {
    let mut filter = JobFilter::default();
    let mut limit = DEFAULT_LIMIT;
    for (name, value) in pairs(raw.unwrap_or(""), PARAMS)? {
        let value = value.trim().to_string();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "status" => {
                for s in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    filter.statuses.push(status(s)?);
                }
            }
            "backend" => filter.backend = Some(value),
            "model" => filter.model = Some(value),
            "batch" => filter.batch = Some(value),
            "q" => filter.text = Some(value),
            "since" => filter.since_ms = time("since", &value, false)?,
            "until" => filter.until_ms = Some(time("until", &value, true)?),
            "cursor" => filter.before = Some(decode_cursor(&value)?),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad(format!(
                            "limit: {value:?} is not a number from 1 to {MAX_LIMIT}. Ask for 1 to {MAX_LIMIT} jobs (default {DEFAULT_LIMIT})."
                        ))
                    })?
            }
            _ => {}
        }
    }
    filter.limit = limit + 1;
    Ok(Listing { filter, limit })
}

fn status(s: &str) -> Result<JobStatus, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        ApiError::bad(format!(
            "status: {s:?} is not a job status. Use queued, running, succeeded, failed or cancelled (a comma list for several)."
        ))
    })
}

/// `YYYY-MM-DD` (UTC; `until` then means the end of that day) or milliseconds since the epoch.
fn time(field: &str, value: &str, end_of_day: bool) -> Result<u64, ApiError> {
    if value.bytes().all(|b| b.is_ascii_digit())
        && let Ok(ms) = value.parse::<u64>()
    {
        return Ok(ms);
    }
    let is_date = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    is_date
        .then(|| parse_utc_lenient(&format!("{value}T00:00:00Z")))
        .flatten()
        .map(|ms| if end_of_day { ms + 86_400_000 } else { ms })
        .ok_or_else(|| {
            ApiError::bad(format!(
                "{field}: {value:?} is not a date. Give YYYY-MM-DD (UTC) or milliseconds since 1970."
            ))
        })
}

/// The cursor after `(created_at_ms, id)`: opaque to the page.
pub fn encode_cursor(created_at_ms: u64, id: &str) -> String {
    BASE64_URL_SAFE_NO_PAD.encode(format!("{created_at_ms}:{id}"))
}

fn decode_cursor(value: &str) -> Result<(u64, String), ApiError> {
    let bad = || {
        ApiError::bad(
            "cursor: is not one this gallery gave. Use the \"next\" value of the previous page, or leave it out for the first page.",
        )
    };
    let text = BASE64_URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse::<u64>().map_err(|_| bad())?;
    if !super::files::valid_job_id(id) {
        return Err(bad());
    }
    Ok((at, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_and_bad_ones_named() {
        let l = listing(Some(
            "status=running,queued&backend=modelscope&q=Golden+cat&limit=5&until=2026-12-04",
        ))
        .expect("ok");
        assert_eq!(l.filter.statuses, [JobStatus::Running, JobStatus::Queued]);
        assert_eq!(l.filter.text.as_deref(), Some("Golden cat"));
        assert_eq!((l.limit, l.filter.limit), (5, 6));
        assert_eq!(
            l.filter.until_ms,
            Some(1_796_428_800_000),
            "the end of 2026-12-04 UTC"
        );
        for (q, named) in [
            ("colour=red", "\"colour\""),
            ("status=done", "status:"),
            ("limit=0", "limit:"),
            ("limit=101", "limit:"),
            ("since=yesterday", "since:"),
            ("cursor=xyz", "cursor:"),
            ("q=a&q=b", "q:"),
            ("q=%ZZ", "query:"),
        ] {
            let e = listing(Some(q)).err().expect(q);
            assert!(e.message.contains(named), "{q}: {}", e.message);
        }
        let long = format!("q={}", "a".repeat(MAX_QUERY_BYTES));
        assert_eq!(listing(Some(&long)).err().expect("long").status, 413);
    }

    #[test]
    fn cursors_read_back() {
        let c = encode_cursor(17, "0123abcd");
        let l = listing(Some(&format!("cursor={c}"))).expect("ok");
        assert_eq!(l.filter.before, Some((17, "0123abcd".to_string())));
    }
}
