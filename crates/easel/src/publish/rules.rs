//! The platform's limits, checked before anything is sent (docs/contracts/xiaohongshu-mcp.md 5.3 and 7.2).
//! xiaohongshu-mcp checks some of these only after minutes of typing in a browser, and the
//! image count not at all, so each is checked here and every violation reported at once.

use crate::request::InvalidInput;

use crate::clock::{format_utc, parse_rfc3339};

/// Longest title, in the service's weighted units.
pub const MAX_TITLE: usize = 20;
/// Longest body, in characters (the website's counter).
pub const MAX_BODY: usize = 1000;
/// Most topics the service types; it drops the rest silently.
pub const MAX_TAGS: usize = 10;
/// Most images in one image note on the website.
pub const MAX_IMAGES: usize = 18;
/// `schedule_at` must be this far ahead (1 hour) …
const MIN_AHEAD_MS: i64 = 3_600_000;
/// … plus a minute, because the service checks it later than easel does.
const MARGIN_MS: i64 = 60_000;
/// … and at most 14 days ahead.
const MAX_AHEAD_MS: i64 = 14 * 24 * 3_600_000;

/// The exact `visibility` values, with the English words also accepted.
pub const VISIBILITIES: [(&str, &str); 3] = [
    ("公开可见", "public"),
    ("仅自己可见", "private"),
    ("仅互关好友可见", "friends"),
];

/// xiaohongshu-mcp's title length (`xhsutil.CalcTitleLength`): every UTF-16 code unit above
/// 127 counts 2, every other 1, and the sum is halved rounding up. So a CJK character
/// counts 1, an ASCII letter ½, an emoji (two UTF-16 units) 2.
pub fn title_length(title: &str) -> usize {
    let units: usize = title
        .encode_utf16()
        .map(|u| if u > 127 { 2 } else { 1 })
        .sum();
    units.div_ceil(2)
}

pub fn check_title(title: &str, out: &mut Vec<InvalidInput>) {
    if title.trim().is_empty() {
        out.push(InvalidInput::new(
            "title",
            "is empty",
            "Give the note a title (the service requires one).",
        ));
        return;
    }
    let length = title_length(title);
    if length > MAX_TITLE {
        out.push(InvalidInput::new(
            "title",
            format!(
                "{title:?} measures {length} units, over the limit of {MAX_TITLE} (Xiaohongshu's rule: each CJK, full-width or other non-ASCII character counts 1, each ASCII character ½, an emoji 2)"
            ),
            format!(
                "Shorten it by at least {} unit(s): at most 20 Chinese characters, or 40 ASCII letters.",
                length - MAX_TITLE
            ),
        ));
    }
}

pub fn check_content(content: &str, out: &mut Vec<InvalidInput>) {
    let length = content.chars().count();
    if content.trim().is_empty() {
        out.push(InvalidInput::new(
            "content",
            "is empty",
            "Write the body text of the note (the service requires one).",
        ));
    } else if length > MAX_BODY {
        out.push(InvalidInput::new(
            "content",
            format!("has {length} characters, over Xiaohongshu's limit of {MAX_BODY}"),
            format!(
                "Cut at least {} character(s); put hashtags in tags, not in the body.",
                length - MAX_BODY
            ),
        ));
    }
}

/// Tags without their leading `#`; each empty one and an overlong list are violations.
pub fn clean_tags(tags: &[String], out: &mut Vec<InvalidInput>) -> Vec<String> {
    let mut clean = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let t = tag.trim().trim_start_matches(['#', '＃']).trim();
        if t.is_empty() {
            out.push(InvalidInput::new(
                "tags",
                format!("tags[{i}] {tag:?} is empty once the leading # is removed"),
                "Remove it, or write the topic word.",
            ));
        } else {
            clean.push(t.to_string());
        }
    }
    if tags.len() > MAX_TAGS {
        out.push(InvalidInput::new(
            "tags",
            format!(
                "{} tags given; Xiaohongshu takes at most {MAX_TAGS} (xiaohongshu-mcp silently drops the rest)",
                tags.len()
            ),
            format!("Keep the {MAX_TAGS} most relevant."),
        ));
    }
    clean
}

pub fn check_image_count(count: usize, out: &mut Vec<InvalidInput>) {
    if count == 0 {
        out.push(InvalidInput::new(
            "images",
            "no image given; an image note needs at least 1",
            "Name 1 to 18 saved images (paths, job ids or easel:// URIs), or generate some first with generate_image.",
        ));
    } else if count > MAX_IMAGES {
        out.push(InvalidInput::new(
            "images",
            format!(
                "{count} images given; Xiaohongshu image notes hold at most {MAX_IMAGES} (the website's limit; xiaohongshu-mcp does not check it)"
            ),
            format!("Choose at most {MAX_IMAGES}, or split them over several notes."),
        ));
    }
}

/// `schedule_at` as given when it is RFC 3339 with an offset and 1 hour to 14 days ahead
/// of `now_ms`.
pub fn check_schedule(text: &str, now_ms: i64, out: &mut Vec<InvalidInput>) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let example = format_utc(now_ms + 24 * 3_600_000);
    let at = match parse_rfc3339(text) {
        Ok(at) => at,
        Err(reason) => {
            out.push(InvalidInput::new(
                "schedule_at",
                format!("{text:?} {reason}"),
                format!(
                    "Write an RFC 3339 time with its offset, e.g. {example:?} or \"2026-09-02T10:30:00+08:00\"; leave it out to publish now."
                ),
            ));
            return None;
        }
    };
    let earliest = now_ms + MIN_AHEAD_MS + MARGIN_MS;
    let latest = now_ms + MAX_AHEAD_MS;
    if at < earliest {
        out.push(InvalidInput::new(
            "schedule_at",
            format!(
                "{text:?} ({}) is less than 1 hour from now; Xiaohongshu schedules 1 hour to 14 days ahead",
                format_utc(at)
            ),
            format!(
                "Pick {} or later (easel keeps a minute's margin), or leave it out to publish now.",
                format_utc(earliest)
            ),
        ));
        return None;
    }
    if at > latest {
        out.push(InvalidInput::new(
            "schedule_at",
            format!(
                "{text:?} ({}) is more than 14 days from now; Xiaohongshu schedules 1 hour to 14 days ahead",
                format_utc(at)
            ),
            format!("Pick {} or earlier.", format_utc(latest)),
        ));
        return None;
    }
    Some(text.to_string())
}

/// One of the three exact values the service accepts, from either spelling.
pub fn check_visibility(text: &str, out: &mut Vec<InvalidInput>) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let found = VISIBILITIES
        .iter()
        .find(|(zh, en)| *zh == text || *en == lower)
        .map(|(zh, _)| zh.to_string());
    if found.is_none() {
        out.push(InvalidInput::new(
            "visibility",
            format!("{text:?} is not a visibility Xiaohongshu knows"),
            "Use 公开可见 (public, the default), 仅自己可见 (private: only me) or 仅互关好友可见 (friends: mutual followers); \"public\", \"private\" and \"friends\" work too.",
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_rule_matches_the_contract_examples() {
        assert_eq!(title_length("OOTD穿搭分享"), 6);
        assert_eq!(title_length(&"字".repeat(20)), 20);
        assert_eq!(title_length(&"a".repeat(40)), 20);
        assert_eq!(title_length(&"a".repeat(41)), 21);
        assert_eq!(title_length("😀"), 2);
        assert_eq!(title_length("！"), 1);
        assert_eq!(title_length("abc"), 2);
    }

    #[test]
    fn title_violation_states_the_measured_length() {
        let mut v = Vec::new();
        check_title(&"秋".repeat(23), &mut v);
        assert_eq!(v.len(), 1);
        assert!(v[0].to_string().contains("measures 23 units"), "{}", v[0]);
        let mut v = Vec::new();
        check_title(&"秋".repeat(20), &mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn tags_are_stripped_and_capped() {
        let mut v = Vec::new();
        let tags = clean_tags(&["#咖啡".into(), "##探店".into(), " latte ".into()], &mut v);
        assert_eq!(tags, ["咖啡", "探店", "latte"]);
        assert!(v.is_empty());
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        clean_tags(&many, &mut v);
        assert_eq!(v.len(), 1);
        assert!(v[0].reason.contains("11 tags"));
    }

    #[test]
    fn schedule_needs_an_offset_and_the_window() {
        let now = 1_800_000_000_000;
        let mut v = Vec::new();
        check_schedule("2027-01-15T10:00:00", now, &mut v);
        assert!(v[0].reason.contains("offset"), "{}", v[0]);
        let soon = format_utc(now + 30 * 60_000);
        let mut v = Vec::new();
        assert!(check_schedule(&soon, now, &mut v).is_none());
        assert!(v[0].reason.contains("less than 1 hour"), "{}", v[0]);
        let mut v = Vec::new();
        assert!(check_schedule(&format_utc(now + 15 * 86_400_000), now, &mut v).is_none());
        assert!(v[0].reason.contains("14 days"));
        let mut v = Vec::new();
        let ok = format_utc(now + 2 * 3_600_000);
        assert_eq!(check_schedule(&ok, now, &mut v), Some(ok.clone()));
        assert!(v.is_empty());
    }

    #[test]
    fn visibility_maps_english_words() {
        let mut v = Vec::new();
        assert_eq!(
            check_visibility("Private", &mut v).as_deref(),
            Some("仅自己可见")
        );
        assert_eq!(
            check_visibility("仅互关好友可见", &mut v).as_deref(),
            Some("仅互关好友可见")
        );
        assert!(check_visibility("everyone", &mut v).is_none());
        assert_eq!(v.len(), 1);
    }
}
