//! Validation of caller-given folder and file names, and the default file name.
//!
//! Names come from AI agents and from people on any OS, so both `/` and `\` count as
//! separators and the rules are the union of what Unix and Windows need: a name that passes
//! here means the same thing, and stays inside the output root, everywhere.

use std::time::SystemTime;

use super::error::OutputError;

/// Longest accepted file name stem, in characters.
const STEM_MAX_CHARS: usize = 120;
/// Longest accepted stem in bytes: leaves room under the common 255-byte file name limit for a
/// `-NNNNN` suffix, an extension, and the hidden temporary name used while writing.
const STEM_MAX_BYTES: usize = 200;
/// Characters Windows forbids in names (besides separators and control characters).
const WINDOWS_FORBIDDEN: &[char] = &['*', '?', '"', '<', '>', '|'];
/// Extensions a caller may put on a file name; the real one is chosen from the image type.
const IMAGE_EXTENSIONS: &[&str] = &[".png", ".jpg", ".jpeg", ".webp", ".gif"];
/// How much of the prompt the default name keeps.
const SLUG_MAX_WORDS: usize = 6;
const SLUG_MAX_CHARS: usize = 48;

/// Bidirectional overrides and isolates, zero-width and other invisible format characters:
/// they make a name display differently from what it is (the "right-to-left override"
/// trick), and no file name needs them. Zero-width (non-)joiners stay allowed: Persian and
/// Indic words and emoji sequences use them.
fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Checks an `output_dir` value: a folder path relative to the output root.
///
/// Empty means the root itself, and empty components (`a//b`) are ignored. Refused: absolute
/// and network paths, drive letters and any `:`, `..` components (split on `/` and `\`),
/// control characters, characters Windows forbids and Windows device names.
pub fn validate_relative_dir(s: &str) -> Result<(), OutputError> {
    let refuse = |reason: String| {
        Err(OutputError::InvalidDir {
            value: s.to_owned(),
            reason,
        })
    };
    if s.chars().any(char::is_control) {
        return refuse("contains a control character (such as NUL or a line break)".into());
    }
    if s.starts_with("\\\\") || s.starts_with("//") {
        return refuse("is a network (UNC) path".into());
    }
    if s.starts_with(['/', '\\']) {
        return refuse("is an absolute path".into());
    }
    if s.contains(':') {
        return refuse(
            "contains \":\" (a drive letter such as \"C:\" or a Windows stream name)".into(),
        );
    }
    if let Some(c) = s.chars().find(|c| WINDOWS_FORBIDDEN.contains(c)) {
        return refuse(format!(
            "contains {c:?}, which Windows does not allow in names"
        ));
    }
    if let Some(c) = s.chars().find(|c| is_deceptive(*c)) {
        return refuse(format!(
            "contains the invisible formatting character U+{:04X}, which can make a name display as another",
            u32::from(c)
        ));
    }
    for part in s.split(['/', '\\']) {
        if is_parent_reference(part) {
            return refuse("leaves the output root (it contains \"..\")".into());
        }
        // Windows silently drops trailing dots and spaces, so "cats." and "cats" would be
        // one folder there and two elsewhere.
        if part != "." && (part.ends_with(['.', ' ']) || part.starts_with(' ')) {
            return refuse(format!(
                "has a folder name {part:?} that starts or ends with a space, or ends with \".\""
            ));
        }
        if let Some(device) = windows_device_name(part) {
            return refuse(format!(
                "contains {device:?}, a name Windows reserves for devices"
            ));
        }
    }
    Ok(())
}

/// Checks a `filename` value (without extension; see [`strip_image_extension`]).
///
/// A stem is one plain name: non-empty, at most 120 characters, no folder separators, no `..`,
/// no leading `.` (hidden files), no control characters and nothing Windows forbids.
pub fn validate_stem(s: &str) -> Result<(), OutputError> {
    let refuse = |reason: String| {
        Err(OutputError::InvalidFilename {
            value: s.to_owned(),
            reason,
        })
    };
    let chars = s.chars().count();
    if s.is_empty() {
        return refuse("is empty".into());
    }
    if chars > STEM_MAX_CHARS || s.len() > STEM_MAX_BYTES {
        return refuse(format!(
            "is too long ({chars} characters, {} bytes; at most {STEM_MAX_CHARS} characters and {STEM_MAX_BYTES} bytes)",
            s.len()
        ));
    }
    if s.chars().any(char::is_control) {
        return refuse("contains a control character (such as NUL or a line break)".into());
    }
    if let Some(c) = s.chars().find(|c| is_deceptive(*c)) {
        return refuse(format!(
            "contains the invisible formatting character U+{:04X}, which can make a name display as another (as in the right-to-left override trick)",
            u32::from(c)
        ));
    }
    if s.contains(['/', '\\']) {
        return refuse(
            "contains a folder separator; put folders in output_dir and only the name in filename"
                .into(),
        );
    }
    if s.contains(':') {
        return refuse("contains \":\", which Windows does not allow in names".into());
    }
    if let Some(c) = s.chars().find(|c| WINDOWS_FORBIDDEN.contains(c)) {
        return refuse(format!(
            "contains {c:?}, which Windows does not allow in names"
        ));
    }
    if s.contains("..") {
        return refuse("contains \"..\"".into());
    }
    if s.starts_with('.') {
        return refuse("starts with \".\", which would make a hidden file".into());
    }
    // Windows silently drops trailing dots and spaces, so such a name would not round-trip.
    if s.ends_with(['.', ' ']) || s.starts_with(' ') {
        return refuse("starts or ends with a space, or ends with \".\"".into());
    }
    if let Some(device) = windows_device_name(s) {
        return refuse(format!(
            "is {device:?}, a name Windows reserves for devices"
        ));
    }
    Ok(())
}

/// Removes one trailing image extension (`.png`, `.jpg`, `.jpeg`, `.webp`, `.gif`, any case):
/// callers often say `cat.png`, but the extension written is always the image's real type.
pub fn strip_image_extension(s: &str) -> &str {
    for ext in IMAGE_EXTENSIONS {
        if let Some(cut) = s.len().checked_sub(ext.len())
            && s.get(cut..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(ext))
        {
            return &s[..cut];
        }
    }
    s
}

/// The file name stem used when the caller gives none, e.g.
/// `20261121-063012-golden-cat-in-a-garden-s42`: UTC time, the first words of the prompt as
/// lowercase ASCII, and the seed when one was used. A prompt without ASCII words (e.g.
/// Chinese) adds no slug.
pub fn default_stem(prompt: &str, seed: Option<u64>, now: SystemTime) -> String {
    let stamp = crate::clock::stamp(now);
    let slug = slug(prompt);
    // Only a seed that was used goes into the name.
    let seed = seed.map(|s| format!("-s{s}")).unwrap_or_default();
    if slug.is_empty() {
        format!("{stamp}{seed}")
    } else {
        format!("{stamp}-{slug}{seed}")
    }
}

fn slug(prompt: &str) -> String {
    let mut slug = String::new();
    // Apostrophes join rather than split words: "cat's" → "cats", not "cat-s".
    let cleaned: String = prompt
        .chars()
        .filter(|c| !matches!(c, '\'' | '’'))
        .collect();
    let words = cleaned
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(SLUG_MAX_WORDS);
    for word in words {
        let room = SLUG_MAX_CHARS.saturating_sub(slug.len() + usize::from(!slug.is_empty()));
        if room == 0 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        // Words are ASCII here, so byte length is character count.
        slug.extend(word.chars().take(room).map(|c| c.to_ascii_lowercase()));
    }
    slug
}

/// `..` and, because Windows trims trailing dots and spaces, `...` or `.. ` too.
fn is_parent_reference(part: &str) -> bool {
    let dots = part.chars().filter(|&c| c == '.').count();
    dots >= 2 && part.chars().all(|c| c == '.' || c == ' ')
}

/// `CON`, `NUL`, `COM1`, … (any case, with or without an extension, with trailing spaces):
/// Windows opens the device instead. `COM¹`–`COM³` and `LPT¹`–`LPT³` count too (Windows reads
/// superscript digits as digits there), and so do `CONIN$` and `CONOUT$`.
pub(crate) fn windows_device_name(part: &str) -> Option<&str> {
    let base = part.split('.').next().unwrap_or(part).trim_end();
    let upper = base.to_ascii_uppercase();
    let numbered = ["COM", "LPT"].iter().any(|p| {
        upper.strip_prefix(p).is_some_and(|n| {
            matches!(
                n,
                "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
            )
        })
    });
    let reserved = numbered
        || matches!(
            upper.as_str(),
            "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
        );
    reserved.then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deceptive_and_windows_mangled_names_are_refused() {
        for stem in ["cat\u{202E}gnp", "\u{200B}cat", "a\u{2066}b"] {
            let err = validate_stem(stem).expect_err(stem);
            assert!(err.to_string().contains("invisible formatting"), "{err}");
        }
        assert!(
            validate_stem("می\u{200C}خواهم").is_ok(),
            "ZWNJ is a letter's business"
        );
        for dir in ["cats.", "cats /2026", " cats", "a/b.", "x\u{202E}y"] {
            let err = validate_relative_dir(dir).expect_err(dir);
            assert_eq!(err.field(), Some("output_dir"), "{dir}");
        }
        for dir in ["./cats", "cats/./2026", "v1.2/x"] {
            assert!(validate_relative_dir(dir).is_ok(), "{dir}");
        }
    }
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn traversal_and_absolute_dirs_are_refused() {
        for bad in [
            "..",
            "../x",
            "a/../../b",
            "/abs",
            "C:\\x",
            "C:x",
            "\\\\srv\\s",
            "//server/share",
            "a\\..\\..\\b",
            "a\0b",
            "a\nb",
            "a/.../b",
            "x/con",
            "a*b",
        ] {
            let err = validate_relative_dir(bad).expect_err(bad);
            assert_eq!(err.field(), Some("output_dir"), "{bad}");
        }
    }

    #[test]
    fn dotdot_message_names_field_reason_and_fix() {
        let err = validate_relative_dir("../x").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "output_dir \"../x\" leaves the output root (it contains \"..\"); give a folder relative to the output root, such as \"cats/2026\""
        );
    }

    #[test]
    fn plain_relative_dirs_are_accepted() {
        for good in [
            "",
            "cats",
            "cats/2026",
            "a//b",
            "a\\b",
            "./a",
            "a..b",
            "猫/2026",
        ] {
            validate_relative_dir(good).expect(good);
        }
    }

    #[test]
    fn bad_stems_are_refused() {
        let long = "x".repeat(121);
        for bad in [
            "", "a/b", "a\\b", "..", "a..b", ".hidden", "a:b", "a*b", "a?b", "a\"b", "a<b", "a>b",
            "a|b", "a\0b", "nul", "COM1", "cat.", " cat", &long,
        ] {
            let err = validate_stem(bad).expect_err(bad);
            assert_eq!(err.field(), Some("filename"), "{bad:?}");
        }
        validate_stem("golden-cat_01 v2").expect("plain name");
        validate_stem("金色的猫").expect("non-ASCII name");
        validate_stem(&"x".repeat(120)).expect("120 characters");
        // 100 three-byte characters stay under 120 characters but exceed the byte cap.
        validate_stem(&"猫".repeat(100)).expect_err("too many bytes");
    }

    #[test]
    fn windows_device_names_are_refused_with_any_extension_or_case() {
        for device in [
            "CON",
            "con",
            "Nul.png",
            "aux.tar.gz",
            "PRN ",
            "COM1",
            "com9.jpg",
            "LPT3",
            "COM¹",
            "lpt².png",
            "CONIN$",
            "conout$.txt",
            "NUL .png",
        ] {
            assert!(windows_device_name(device).is_some(), "{device:?}");
            validate_stem(device.trim_end()).expect_err(device);
            let dir = format!("cats/{}", device.trim_end());
            validate_relative_dir(&dir).expect_err(&dir);
        }
        for plain in [
            "CONSOLE",
            "CO",
            "COM0",
            "COM10",
            "LPT",
            "NULL",
            "AUXILIARY",
            "com1x",
            "my-con",
            "COM⁴",
            "icon",
        ] {
            assert_eq!(windows_device_name(plain), None, "{plain:?}");
            validate_stem(plain).expect(plain);
        }
    }

    #[test]
    fn verbatim_and_device_namespace_dirs_are_refused() {
        for bad in [
            r"\\?\C:\x",
            r"\\?\UNC\srv\share",
            r"\\.\COM1",
            r"\??\C:\x",
            "C:",
            "c:/x",
            "x/C:",
            "cats/photo.png:secret",
        ] {
            let err = validate_relative_dir(bad).expect_err(bad);
            assert_eq!(err.field(), Some("output_dir"), "{bad}");
        }
    }

    #[test]
    fn image_extensions_are_stripped_once() {
        assert_eq!(strip_image_extension("cat.png"), "cat");
        assert_eq!(strip_image_extension("cat.JPEG"), "cat");
        assert_eq!(strip_image_extension("cat.jpg.webp"), "cat.jpg");
        assert_eq!(strip_image_extension("cat.txt"), "cat.txt");
        assert_eq!(strip_image_extension("猫.png"), "猫");
        assert_eq!(strip_image_extension("png"), "png");
    }

    #[test]
    fn default_stem_for_english_prompt() {
        // 2026-11-21T06:30:12Z
        let now = UNIX_EPOCH + Duration::from_secs(1_795_242_612);
        assert_eq!(
            default_stem(
                "A golden cat in a garden, at dusk; oil painting",
                Some(42),
                now
            ),
            "20261121-063012-a-golden-cat-in-a-garden-s42"
        );
        assert_eq!(
            default_stem("Golden cat's garden!", 7.into(), now),
            "20261121-063012-golden-cats-garden-s7"
        );
        assert_eq!(
            default_stem("Golden cat's garden!", None, now),
            "20261121-063012-golden-cats-garden",
            "no seed was used, so none is in the name"
        );
    }

    #[test]
    fn default_stem_for_chinese_prompt_has_no_slug() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_242_612);
        let stem = default_stem("一只在花园里的金色的猫", Some(42), now);
        assert_eq!(stem, "20261121-063012-s42");
        validate_stem(&stem).expect("default stems are valid");
    }

    #[test]
    fn default_stem_is_always_a_valid_stem() {
        let now = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29T00:00:00Z
        let stem = default_stem(&"supercalifragilistic ".repeat(20), Some(u64::MAX), now);
        assert!(stem.starts_with("20000229-000000-supercalifragilistic-"));
        validate_stem(&stem).expect("valid");
    }
}
