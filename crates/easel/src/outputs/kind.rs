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
            looks_like: describe(bytes, Quote::Text).0,
        });
    }
    let Some(kind) = sniffed else {
        let (looks_like, is_image) = describe(bytes, Quote::Text);
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
    if let Some(least) = least_encoded_bytes(bytes, kind, width, height)
        && (bytes.len() as u64) < least
    {
        return Err(OutputError::Corrupt {
            kind,
            detail: format!(
                "it claims {width}x{height} pixels, which cannot be encoded in {} bytes (at least {least} are needed), so it is damaged or crafted",
                bytes.len()
            ),
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

/// Checks bytes a caller named (a file to edit or publish) and reads their type and size.
/// The error is a reason in words that describe what the bytes are, never what they say:
/// quoting a caller-named file would let any caller read the start of any file it can name.
pub fn inspect_named(bytes: &[u8]) -> Result<ImageInfo, String> {
    let refused = match inspect(bytes, None) {
        Ok(info) => return Ok(info),
        Err(e) => e,
    };
    Err(match refused {
        OutputError::EmptyImage => "is not an image: the file is empty".into(),
        OutputError::NotAnImage { .. } => format!(
            "is not an image: it looks like {}",
            describe(bytes, Quote::Never).0
        ),
        OutputError::UnsupportedImage { looks_like } => format!(
            "is {looks_like}, a type easel does not read (it takes PNG, JPEG, WebP and GIF)"
        ),
        OutputError::Corrupt { kind, detail } => {
            format!("starts like a {kind} image but is damaged ({detail})")
        }
        other => format!("is not a usable image ({other})"),
    })
}

/// The fewest bytes an image of this type and size can be encoded in, where that can be
/// known cheaply: a file below it only claims its size (a decompression bomb's header, or a
/// damaged file), and is refused before anything allocates for its pixels.
///
/// PNG: deflate cannot compress better than about 1032:1, so the compressed scanlines take
/// at least their raw size / 1032 (1100 leaves a margin). JPEG: every 8x8 block of the first
/// component costs at least one bit, even in progressive files with end-of-band runs. WebP
/// (at most 16383 pixels a side) and GIF (never decoded) are bounded elsewhere.
fn least_encoded_bytes(bytes: &[u8], kind: ImageKind, width: u32, height: u32) -> Option<u64> {
    let (w, h) = (u64::from(width), u64::from(height));
    match kind {
        ImageKind::Png => {
            let depth = u64::from(*bytes.get(24)?);
            let channels = match bytes.get(25)? {
                0 | 3 => 1,
                4 => 2,
                2 => 3,
                6 => 4,
                _ => return None,
            };
            let row = 1 + (w * channels * depth).div_ceil(8);
            Some(h * row / 1100)
        }
        ImageKind::Jpeg => Some(w.div_ceil(8) * h.div_ceil(8) / 8),
        ImageKind::Webp | ImageKind::Gif => None,
    }
}

/// Whether a description may quote the start of a text body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// A backend's answer: its error text is the most useful thing to pass on.
    Text,
    /// Bytes of a file or URL a caller named: say what kind of thing it is, nothing more.
    Never,
}

/// A short description of what the bytes look like, for error messages, and whether that is an
/// image (of a type easel does not keep).
fn describe(bytes: &[u8], quote: Quote) -> (String, bool) {
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
        let json = starts(b"{") || starts(b"[");
        if quote == Quote::Never {
            return other(if json { "JSON" } else { "text" }.into());
        }
        return if json {
            other(format!("JSON ({snippet})"))
        } else {
            other(format!("text ({snippet})"))
        };
    }
    if quote == Quote::Never {
        return other("unrecognised binary data".into());
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
    fn named_files_are_described_never_quoted() {
        let passwd =
            b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n";
        let err = inspect_named(passwd).expect_err("text");
        assert_eq!(err, "is not an image: it looks like text");
        let err = inspect_named(br#"{"token": "s3cret"}"#).expect_err("json");
        assert_eq!(err, "is not an image: it looks like JSON");
        let err = inspect_named(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]).expect_err("elf");
        assert_eq!(
            err,
            "is not an image: it looks like unrecognised binary data"
        );
        let png = encode(&noise(4, 4, 1), ImageKind::Png);
        assert_eq!(inspect_named(&png).expect("png").width, 4);
    }

    /// A 72-byte PNG whose header claims `side`²: signature, IHDR (with its CRC), a cut IDAT.
    fn png_claiming(side: u32, colour: u8) -> Vec<u8> {
        let mut chunk = b"IHDR".to_vec();
        chunk.extend_from_slice(&side.to_be_bytes());
        chunk.extend_from_slice(&side.to_be_bytes());
        chunk.extend_from_slice(&[8, colour, 0, 0, 0]);
        let crc = chunk.iter().fold(!0u32, |mut c, &b| {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            c
        });
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0d".to_vec();
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&(!crc).to_be_bytes());
        // The start of an image data chunk, as a bomb's header would have.
        png.extend_from_slice(&27u32.to_be_bytes());
        png.extend_from_slice(b"IDAT");
        png.resize(72, 0);
        png
    }

    #[test]
    fn a_tiny_file_claiming_a_huge_size_is_damaged() {
        let err = inspect(&png_claiming(40_000, 6), None).expect_err("claims too much");
        assert!(matches!(err, OutputError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("40000x40000"), "{err}");
        // A real image of the same type passes: the bound is far below real encodings.
        for kind in [ImageKind::Png, ImageKind::Jpeg] {
            let flat = image::DynamicImage::ImageRgb8(image::RgbImage::new(300, 200));
            let bytes = encode(&flat, kind);
            let info = inspect(&bytes, None).expect("flat image is plausible");
            assert_eq!((info.width, info.height), (300, 200));
        }
    }

    #[test]
    fn mime_parsing_is_lenient_about_case_and_parameters() {
        assert_eq!(ImageKind::from_mime("IMAGE/PNG; q=1"), Some(ImageKind::Png));
        assert_eq!(ImageKind::from_mime("image/jpg"), Some(ImageKind::Jpeg));
        assert_eq!(ImageKind::from_mime("image/avif"), None);
    }
}
