//! What a downloaded body really is: image type from magic bytes, size from the header.
//!
//! Backends and CDNs mislabel content, and an "image" that is really an HTML error page must
//! never be saved as `cat.png`. So the type comes from the bytes, a declared `Content-Type`
//! only has to agree with them, and the size is read from the header without decoding pixels.

use std::fmt;
use std::io::Cursor;

use image::{ImageFormat, ImageReader};
use serde::{Deserialize, Serialize};

use super::error::OutputError;

/// The image types easel keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl ImageKind {
    /// The MIME type, e.g. `image/png`.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    /// The file extension, without the dot: `png`, `jpg`, `webp`, `gif`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }

    /// The kind for a MIME type; parameters (`; charset=…`) and case are ignored, and the
    /// common non-standard `image/jpg` is accepted.
    pub fn from_mime(mime: &str) -> Option<Self> {
        match mime_essence(mime).as_str() {
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/webp" => Some(Self::Webp),
            "image/gif" => Some(Self::Gif),
            _ => None,
        }
    }

    /// The kind the bytes really are, from their magic numbers.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub(crate) fn format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Webp => ImageFormat::WebP,
            Self::Gif => ImageFormat::Gif,
        }
    }
}

impl fmt::Display for ImageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Webp => "WebP",
            Self::Gif => "GIF",
        })
    }
}

/// An image's real type and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
}

/// Checks that `bytes` are an image easel keeps and reads its type and size.
///
/// `declared_content_type` is the server's `Content-Type`, if any: an `image/…` type must match
/// the bytes, another type (`text/html`, `application/json`) is refused, and
/// `application/octet-stream` or `None` defer to the bytes.
pub fn inspect(
    bytes: &[u8],
    declared_content_type: Option<&str>,
) -> Result<ImageInfo, OutputError> {
    if bytes.is_empty() {
        return Err(OutputError::EmptyImage);
    }
    let declared = declared_content_type
        .map(mime_essence)
        .filter(|essence| !essence.is_empty() && !is_opaque_binary(essence));
    let sniffed = ImageKind::sniff(bytes);
    if let Some(declared) = &declared
        && !declared.starts_with("image/")
    {
        return Err(OutputError::NotImageContentType {
            content_type: declared.clone(),
            looks_like: describe(bytes).0,
        });
    }
    let Some(kind) = sniffed else {
        let (looks_like, is_image) = describe(bytes);
        return Err(if is_image {
            OutputError::UnsupportedImage { looks_like }
        } else {
            OutputError::NotAnImage { looks_like }
        });
    };
    if let Some(declared) = declared
        && ImageKind::from_mime(&declared) != Some(kind)
    {
        return Err(OutputError::TypeMismatch {
            declared,
            actual: kind,
        });
    }
    let (width, height) = dimensions(bytes, kind)?;
    if width == 0 || height == 0 {
        return Err(OutputError::Corrupt {
            kind,
            detail: format!("it claims a size of {width}x{height}"),
        });
    }
    Ok(ImageInfo {
        kind,
        width,
        height,
    })
}

fn dimensions(bytes: &[u8], kind: ImageKind) -> Result<(u32, u32), OutputError> {
    let corrupt = |detail: String| OutputError::Corrupt { kind, detail };
    if kind == ImageKind::Gif {
        // The `image` crate is built without its GIF codec; the logical screen size sits at a
        // fixed place in the header, so read it directly.
        return match bytes.get(6..10) {
            Some(&[w0, w1, h0, h1]) => Ok((
                u32::from(u16::from_le_bytes([w0, w1])),
                u32::from(u16::from_le_bytes([h0, h1])),
            )),
            _ => Err(corrupt("the file ends inside the header".into())),
        };
    }
    ImageReader::with_format(Cursor::new(bytes), kind.format())
        .into_dimensions()
        .map_err(|e| corrupt(e.to_string()))
}

/// `type/subtype`, lowercase, without parameters.
fn mime_essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Content types that say "some bytes" rather than naming a type.
fn is_opaque_binary(essence: &str) -> bool {
    matches!(
        essence,
        "application/octet-stream" | "binary/octet-stream" | "application/binary"
    )
}

/// A short description of what the bytes look like, for error messages, and whether that is an
/// image (of a type easel does not keep).
fn describe(bytes: &[u8]) -> (String, bool) {
    if let Some(kind) = ImageKind::sniff(bytes) {
        return (format!("a {kind} image"), true);
    }
    let head = &bytes[..bytes.len().min(512)];
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = &text[text.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    let lower = text.to_ascii_lowercase();
    let starts = |prefix: &[u8]| lower.starts_with(prefix);
    let contains = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);

    let image = |what: &str| (what.to_owned(), true);
    let other = |what: String| (what, false);
    if starts(b"<svg") || (starts(b"<?xml") && contains(b"<svg")) {
        return image("an SVG drawing");
    }
    if starts(b"<!doctype html") || starts(b"<html") || starts(b"<head") || starts(b"<body") {
        return other("an HTML page".into());
    }
    if starts(b"<") {
        return other("an XML or HTML document".into());
    }
    if bytes.starts_with(b"BM") && bytes.len() > 14 {
        return image("a BMP image");
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return image("a TIFF image");
    }
    if bytes.get(4..8) == Some(b"ftyp") {
        return image("an AVIF/HEIC image or other ISO media file");
    }
    if bytes.starts_with(b"%PDF") {
        return other("a PDF document".into());
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return other("a ZIP archive".into());
    }
    if bytes.starts_with(&[0x1F, 0x8B]) {
        return other("gzip-compressed data".into());
    }
    if bytes.starts_with(b"RIFF") {
        return other("a RIFF file that is not WebP".into());
    }
    if let Some(snippet) = text_snippet(text) {
        return if starts(b"{") || starts(b"[") {
            other(format!("JSON ({snippet})"))
        } else {
            other(format!("text ({snippet})"))
        };
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    other(format!(
        "unrecognised binary data (starting {})",
        hex.join(" ")
    ))
}

/// The start of `text` on one line, if it is readable text: server error bodies usually say
/// what went wrong, which is the most useful thing to pass on.
fn text_snippet(text: &[u8]) -> Option<String> {
    const MAX_CHARS: usize = 120;
    let valid = match std::str::from_utf8(text) {
        Ok(s) => s,
        // Cut mid-character by the 512-byte head: keep the valid part.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&text[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    if valid.is_empty() || valid.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return None;
    }
    let mut snippet: String = valid
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_CHARS)
        .collect();
    if valid.chars().count() > MAX_CHARS {
        snippet.push('…');
    }
    Some(format!("`{snippet}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::test_images::{encode, noise};

    #[test]
    fn sniffs_type_and_reads_size_from_header() {
        let img = noise(40, 30, 1);
        for kind in [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp] {
            let bytes = encode(&img, kind);
            let info = inspect(&bytes, None).expect("image");
            assert_eq!((info.kind, info.width, info.height), (kind, 40, 30));
            inspect(&bytes, Some(kind.mime())).expect("declared type matches");
            inspect(&bytes, Some("application/octet-stream")).expect("opaque type defers");
        }
    }

    #[test]
    fn gif_size_comes_from_its_header() {
        let gif = crate::outputs::test_images::TINY_GIF;
        let info = inspect(gif, Some("image/gif")).expect("gif");
        assert_eq!((info.kind, info.width, info.height), (ImageKind::Gif, 1, 1));
    }

    #[test]
    fn html_is_refused_with_a_clear_message() {
        let err = inspect(
            b"  <!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
            None,
        )
        .expect_err("html");
        let msg = err.to_string();
        assert!(
            msg.contains("downloaded image is an HTML page, not an image"),
            "{msg}"
        );
        assert_eq!(err.field(), Some("downloaded image"));
    }

    #[test]
    fn json_error_bodies_are_quoted() {
        let err = inspect(br#"{"error": "quota exceeded"}"#, None).expect_err("json");
        assert!(
            err.to_string()
                .contains(r#"JSON (`{"error": "quota exceeded"}`)"#),
            "{err}"
        );
    }

    #[test]
    fn declared_non_image_type_is_refused() {
        let png = encode(&noise(4, 4, 1), ImageKind::Png);
        let err = inspect(&png, Some("text/html; charset=utf-8")).expect_err("text/html");
        assert!(
            matches!(err, OutputError::NotImageContentType { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("\"text/html\""), "{err}");
    }

    #[test]
    fn declared_type_must_match_content() {
        let png = encode(&noise(4, 4, 1), ImageKind::Png);
        let err = inspect(&png, Some("image/jpeg")).expect_err("mismatch");
        assert!(
            matches!(
                err,
                OutputError::TypeMismatch {
                    actual: ImageKind::Png,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("declared as \"image/jpeg\" but its content is PNG")
        );
    }

    #[test]
    fn empty_truncated_and_unsupported_bodies_are_refused() {
        assert!(matches!(inspect(b"", None), Err(OutputError::EmptyImage)));
        let png = encode(&noise(4, 4, 1), ImageKind::Png);
        assert!(matches!(
            inspect(&png[..12], None),
            Err(OutputError::Corrupt { .. })
        ));
        assert!(matches!(
            inspect(b"GIF89a\x01", None),
            Err(OutputError::Corrupt { .. })
        ));
        let bmp = b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0";
        assert!(matches!(
            inspect(bmp, None),
            Err(OutputError::UnsupportedImage { .. })
        ));
        let err = inspect(&[0, 1, 2, 3, 0xfe], None).expect_err("binary");
        assert!(err.to_string().contains("starting 00 01 02 03 fe"), "{err}");
    }

    #[test]
    fn mime_parsing_is_lenient_about_case_and_parameters() {
        assert_eq!(ImageKind::from_mime("IMAGE/PNG; q=1"), Some(ImageKind::Png));
        assert_eq!(ImageKind::from_mime("image/jpg"), Some(ImageKind::Jpeg));
        assert_eq!(ImageKind::from_mime("image/avif"), None);
    }
}
