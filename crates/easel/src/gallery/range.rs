//! `Range: bytes=…` on saved files, so that a browser can seek in a video (it asks for the
//! part it needs instead of the whole file). One range only: a multi-range request is
//! answered with the whole file, which RFC 9110 allows. Saved files never change, so there
//! is no `If-Range` to weigh.

use axum::http::HeaderValue;

/// What to send of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Part {
    Whole,
    /// Bytes `start..=end`.
    Span {
        start: u64,
        end: u64,
    },
    /// The range lies wholly past the end: 416.
    Unsatisfiable,
}

/// Reads the `Range` header; anything not understood is ignored (the whole file), as the
/// RFC asks of a server.
pub fn requested(header: Option<&HeaderValue>, len: u64) -> Part {
    let Some(spec) = header
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.trim().strip_prefix("bytes="))
    else {
        return Part::Whole;
    };
    if spec.contains(',') {
        return Part::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Part::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        // `bytes=-N`: the last N bytes.
        ("", suffix) => match number(suffix) {
            Some(0) => Part::Unsatisfiable,
            Some(n) if len > 0 => Part::Span {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            Some(_) => Part::Unsatisfiable,
            None => Part::Whole,
        },
        (start, end) => {
            let Some(start) = number(start) else {
                return Part::Whole;
            };
            let end = if end.is_empty() {
                Some(u64::MAX)
            } else {
                number(end)
            };
            match end {
                None => Part::Whole,
                Some(end) if end < start => Part::Whole,
                Some(_) if start >= len => Part::Unsatisfiable,
                Some(end) => Part::Span {
                    start,
                    end: end.min(len - 1),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(h: &str, len: u64) -> Part {
        requested(Some(&HeaderValue::from_str(h).expect("ascii")), len)
    }

    #[test]
    fn ranges_are_read_as_the_rfc_says() {
        assert_eq!(part("bytes=0-9", 100), Part::Span { start: 0, end: 9 });
        assert_eq!(part("bytes=90-", 100), Part::Span { start: 90, end: 99 });
        assert_eq!(
            part("bytes=90-1000", 100),
            Part::Span { start: 90, end: 99 }
        );
        assert_eq!(part("bytes=-10", 100), Part::Span { start: 90, end: 99 });
        assert_eq!(part("bytes=-1000", 100), Part::Span { start: 0, end: 99 });
        assert_eq!(part("bytes=100-", 100), Part::Unsatisfiable);
        assert_eq!(part("bytes=-0", 100), Part::Unsatisfiable);
        assert_eq!(requested(None, 100), Part::Whole);
        for ignored in [
            "bytes=0-1,5-6",
            "bytes=9-1",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(part(ignored, 100), Part::Whole, "{ignored}");
        }
    }
}
