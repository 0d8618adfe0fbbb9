//! Saving one downloaded image: the request, the result, and the steps in between.

use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::convert::convert;
use super::digest::sha256_hex;
use super::error::OutputError;
use super::kind::{ImageKind, inspect};
use super::names::{strip_image_extension, validate_relative_dir, validate_stem};
use super::root::OutputRoot;
use super::write::write_new_file;

/// The file format to save images in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Keep the exact bytes the backend produced (recommended).
    #[default]
    Original,
    /// Lossless PNG.
    Png,
    /// JPEG at quality 90; transparency is flattened onto white.
    #[serde(alias = "jpg")]
    Jpeg,
    /// Lossless WebP.
    Webp,
}

impl OutputFormat {
    /// The value as written in requests: `original`, `png`, `jpeg` or `webp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
        }
    }

    /// The image type this format produces; `None` keeps whatever was downloaded.
    pub fn target_kind(self) -> Option<ImageKind> {
        match self {
            Self::Original => None,
            Self::Png => Some(ImageKind::Png),
            Self::Jpeg => Some(ImageKind::Jpeg),
            Self::Webp => Some(ImageKind::Webp),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image to save.
#[derive(Clone, Copy)]
pub struct SaveRequest<'a> {
    /// `output_dir`: folder relative to the output root; `None` or `""` is the root.
    pub dir: Option<&'a str>,
    /// `filename` without extension (an image extension, if present, is dropped).
    pub stem: &'a str,
    /// The image as downloaded.
    pub bytes: &'a [u8],
    pub format: OutputFormat,
}

impl fmt::Debug for SaveRequest<'_> {
    // The bytes would swamp any log line; their length says enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaveRequest")
            .field("dir", &self.dir)
            .field("stem", &self.stem)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("format", &self.format)
            .finish()
    }
}

/// An image that is now on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedFile {
    /// Absolute, canonical path of the file.
    pub path: PathBuf,
    /// The real type of the bytes written (matches the extension).
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// File size in bytes.
    pub bytes: u64,
}

impl SavedFile {
    /// The MIME type of the file, e.g. `image/png`.
    pub fn mime(&self) -> &'static str {
        self.kind.mime()
    }
}

/// Checks the request's `output_dir` and `filename`; returns the stem, `strip` having removed
/// any extension the caller put on it (the real one follows the bytes). An invalid name is
/// reported as the caller sent it, not in its stripped form.
pub(super) fn checked_names<'a>(
    req: &SaveRequest<'a>,
    strip: impl Fn(&'a str) -> &'a str,
) -> Result<&'a str, OutputError> {
    validate_relative_dir(req.dir.unwrap_or(""))?;
    let stem = strip(req.stem);
    validate_stem(stem).map_err(|e| match e {
        OutputError::InvalidFilename { reason, .. } => OutputError::InvalidFilename {
            value: req.stem.to_owned(),
            reason,
        },
        other => other,
    })?;
    Ok(stem)
}

impl OutputRoot {
    /// Saves one image under the root as a new file; see the module docs for the guarantees.
    ///
    /// Everything that can be refused (names, content, conversion) is checked before the
    /// folder is created, so a refused request leaves no trace on disk.
    pub fn save(&self, req: &SaveRequest<'_>) -> Result<SavedFile, OutputError> {
        self.save_recorded(req, &mut |_, _| Ok(()))
    }

    /// [`OutputRoot::save`], calling `record` with the file as it will be and the SHA-256 of
    /// its bytes just before it takes its name (again if that name is taken meanwhile). An
    /// error from `record` stops the save with nothing under the name.
    pub fn save_recorded(
        &self,
        req: &SaveRequest<'_>,
        record: &mut dyn FnMut(&SavedFile, &str) -> Result<(), String>,
    ) -> Result<SavedFile, OutputError> {
        let stem = checked_names(req, strip_image_extension)?;
        let info = inspect(req.bytes, None)?;
        let bytes = convert(req.bytes, info.kind, req.format)?;
        // The extension follows the bytes actually written, never the caller's wish.
        let kind = ImageKind::sniff(&bytes).unwrap_or(info.kind);
        let dir = self.resolve_dir(req.dir)?;
        let sha256 = sha256_hex(&bytes);
        let planned = |path: &Path| SavedFile {
            path: path.to_path_buf(),
            kind,
            width: info.width,
            height: info.height,
            bytes: bytes.len() as u64,
        };
        let path = write_new_file(&dir, stem, kind.extension(), &bytes, &mut |path| {
            record(&planned(path), &sha256)
        })?;
        tracing::debug!(path = %path.display(), %kind, bytes = bytes.len(), "saved image");
        Ok(SavedFile {
            path,
            kind,
            width: info.width,
            height: info.height,
            bytes: bytes.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::outputs::test_images::{TINY_GIF, encode, noise, noise_rgba};

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn request<'a>(dir: Option<&'a str>, stem: &'a str, bytes: &'a [u8]) -> SaveRequest<'a> {
        SaveRequest {
            dir,
            stem,
            bytes,
            format: OutputFormat::Original,
        }
    }

    #[test]
    fn original_bytes_are_kept_exactly() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        let jpeg = encode(&noise(64, 48, 1), ImageKind::Jpeg);
        let saved = root
            .save(&request(Some("cats/2026"), "golden-cat.png", &jpeg))
            .expect("save");
        // The caller's ".png" is dropped: the bytes are JPEG.
        assert_eq!(saved.path, root.path().join("cats/2026/golden-cat.jpg"));
        assert!(saved.path.is_absolute());
        assert_eq!(fs::read(&saved.path).expect("read"), jpeg);
        assert_eq!(
            (saved.kind, saved.width, saved.height),
            (ImageKind::Jpeg, 64, 48)
        );
        assert_eq!(saved.bytes, jpeg.len() as u64);
        assert_eq!(saved.mime(), "image/jpeg");
        let gif = root.save(&request(None, "anim", TINY_GIF)).expect("gif");
        assert_eq!(fs::read(&gif.path).expect("read"), TINY_GIF);
        assert_eq!(gif.path.extension(), Some("gif".as_ref()));
    }

    #[test]
    fn name_clash_gets_a_suffix_and_the_first_file_is_untouched() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        let first = encode(&noise(16, 16, 1), ImageKind::Png);
        let second = encode(&noise(16, 16, 2), ImageKind::Png);
        let a = root.save(&request(None, "cat", &first)).expect("first");
        let b = root.save(&request(None, "cat", &second)).expect("second");
        assert_eq!(a.path, root.path().join("cat.png"));
        assert_eq!(b.path, root.path().join("cat-2.png"));
        assert_eq!(fs::read(&a.path).expect("read"), first);
        assert_eq!(fs::read(&b.path).expect("read"), second);
        assert_eq!(listing(root.path()), ["cat-2.png", "cat.png"]);
    }

    #[test]
    fn conversion_gives_the_requested_type() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        let png = encode(&noise_rgba(40, 20, 1), ImageKind::Png);
        for (format, kind) in [
            (OutputFormat::Png, ImageKind::Png),
            (OutputFormat::Jpeg, ImageKind::Jpeg),
            (OutputFormat::Webp, ImageKind::Webp),
        ] {
            let saved = root
                .save(&SaveRequest {
                    format,
                    ..request(None, "converted", &png)
                })
                .expect("save");
            let written = fs::read(&saved.path).expect("read");
            let info = inspect(&written, None).expect("an image");
            assert_eq!((info.kind, info.width, info.height), (kind, 40, 20));
            assert_eq!(saved.kind, kind);
            assert_eq!(saved.path.extension(), Some(kind.extension().as_ref()));
            assert_eq!(saved.bytes, written.len() as u64);
        }
        // Asking for the type the image already has keeps its bytes.
        let saved = root
            .save(&SaveRequest {
                format: OutputFormat::Png,
                ..request(None, "same", &png)
            })
            .expect("save");
        assert_eq!(fs::read(&saved.path).expect("read"), png);
    }

    #[test]
    fn non_images_are_refused_and_leave_no_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        let html = b"<html><head><title>403 Forbidden</title></head></html>";
        let err = root
            .save(&request(Some("cats"), "cat", html))
            .expect_err("html");
        assert!(
            err.to_string().contains("an HTML page, not an image"),
            "{err}"
        );
        let err = root.save(&request(None, "cat", b"")).expect_err("empty");
        assert_eq!(err.field(), Some("downloaded image"));
        // Neither the folder nor a temporary file was left behind.
        assert!(listing(root.path()).is_empty());
    }

    #[test]
    fn bad_names_are_refused_with_the_callers_value() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        let png = encode(&noise(4, 4, 1), ImageKind::Png);
        let err = root
            .save(&request(None, "../evil.png", &png))
            .expect_err("stem");
        assert!(
            err.to_string().starts_with("filename \"../evil.png\""),
            "{err}"
        );
        let err = root
            .save(&request(Some("../x"), "cat", &png))
            .expect_err("dir");
        assert_eq!(err.field(), Some("output_dir"));
        let err = root
            .save(&request(None, ".png", &png))
            .expect_err("empty stem");
        assert!(err.to_string().contains("is empty"), "{err}");
        assert!(listing(root.path()).is_empty());
    }

    #[test]
    fn output_format_serde_and_schema() {
        let parsed: Vec<OutputFormat> =
            serde_json::from_str(r#"["original","png","jpeg","jpg","webp"]"#).expect("parse");
        assert_eq!(parsed[3], OutputFormat::Jpeg);
        assert_eq!(
            serde_json::to_string(&OutputFormat::Webp).expect("json"),
            "\"webp\""
        );
        assert_eq!(OutputFormat::default(), OutputFormat::Original);
        let schema = serde_json::to_string(&schemars::schema_for!(OutputFormat)).expect("schema");
        assert!(
            schema.contains("original") && schema.contains("webp"),
            "{schema}"
        );
    }
}
