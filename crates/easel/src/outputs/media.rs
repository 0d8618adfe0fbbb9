//! Animations and videos: what workflows that save something other than still images
//! produce (ComfyUI's `SaveAnimatedWEBP`/`SaveAnimatedPNG`, `SaveWEBM`/`SaveVideo`,
//! VideoHelperSuite's `VHS_VideoCombine`).
//!
//! easel keeps animated WebP, APNG and GIF (image types it already knows, kept byte for byte:
//! converting them would keep one frame) and MP4 and WebM videos. Video types come from
//! the magic bytes, never from a name or a declared type, and their pixel size from the
//! container (MP4's track header, WebM's video track). There is no video decoder in easel
//! (and no ffmpeg), so a video gets no inline preview, only a note saying why; an animation
//! is previewed by its first frame where a decoder exists (WebP, PNG).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::OutputError;
use super::kind::{ImageKind, inspect};
use super::names::strip_image_extension;
use super::preview::{PreviewMode, PreviewPlan, plan_previews};
use super::root::OutputRoot;
use super::save::{OutputFormat, SaveRequest};
use super::write::write_new_file;

/// The video containers easel keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoKind {
    Mp4,
    Webm,
}

impl VideoKind {
    pub fn mime(self) -> &'static str {
        match self {
            Self::Mp4 => "video/mp4",
            Self::Webm => "video/webm",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::Webm => "webm",
        }
    }

    /// The container the bytes really are. MP4 is an ISO media file (`ftyp`) whose brand is
    /// not a still-image one (AVIF, HEIC); WebM is an EBML document of DocType `webm`.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.get(4..8) == Some(b"ftyp") {
            let brand = bytes.get(8..12)?;
            const STILL_BRANDS: &[&[u8]] = &[
                b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1",
            ];
            return (!STILL_BRANDS.contains(&brand)).then_some(Self::Mp4);
        }
        if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
            let (_, header) = ebml::children(bytes).into_iter().next()?;
            let doc_type = ebml::find(header, 0x4282)?;
            return (doc_type == b"webm").then_some(Self::Webm);
        }
        None
    }

    /// Width and height of the (first) video track, from the container.
    fn dimensions(self, bytes: &[u8]) -> Option<(u32, u32)> {
        match self {
            Self::Mp4 => mp4_dimensions(bytes),
            Self::Webm => webm_dimensions(bytes),
        }
    }
}

impl fmt::Display for VideoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mp4 => "MP4",
            Self::Webm => "WebM",
        })
    }
}

/// What a saved file is, for reports: a still image, an animation or a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaClass {
    #[default]
    Still,
    /// An animated WebP, PNG (APNG) or GIF.
    Animation,
    /// An MP4 or WebM video.
    Video,
}

impl MediaClass {
    pub fn is_still(&self) -> bool {
        *self == Self::Still
    }
}

/// Whether an image of `kind` has more than one frame: WebP's `VP8X` animation flag, an
/// APNG `acTL` chunk before the image data, a GIF's looping (NETSCAPE2.0) extension.
pub fn is_animated(bytes: &[u8], kind: ImageKind) -> bool {
    match kind {
        ImageKind::Webp => {
            bytes.get(12..16) == Some(b"VP8X") && bytes.get(20).is_some_and(|f| f & 0x02 != 0)
        }
        ImageKind::Png => {
            let mut at = 8;
            while let Some(head) = bytes.get(at..at + 8) {
                match &head[4..8] {
                    b"acTL" => return true,
                    b"IDAT" | b"IEND" => return false,
                    _ => {}
                }
                let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                at = at.saturating_add(12).saturating_add(len);
            }
            false
        }
        ImageKind::Gif => bytes.windows(11).any(|w| w == b"NETSCAPE2.0"),
        ImageKind::Jpeg => false,
    }
}

/// A downloaded result's real type, size and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaInfo {
    pub mime: &'static str,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
    pub class: MediaClass,
}

/// Like [`inspect`], for every type easel keeps: a video by its magic bytes (a declared
/// type, if any, must be `video/…` or opaque), anything else as an image.
pub fn inspect_media(bytes: &[u8], declared: Option<&str>) -> Result<MediaInfo, OutputError> {
    let Some(video) = VideoKind::sniff(bytes) else {
        let info = inspect(bytes, declared)?;
        return Ok(MediaInfo {
            mime: info.kind.mime(),
            extension: info.kind.extension(),
            width: info.width,
            height: info.height,
            class: if is_animated(bytes, info.kind) {
                MediaClass::Animation
            } else {
                MediaClass::Still
            },
        });
    };
    let essence = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let opaque = essence.is_empty()
        || essence.starts_with("video/")
        || matches!(
            essence.as_str(),
            "application/octet-stream" | "binary/octet-stream" | "application/binary"
        );
    if !opaque {
        return Err(OutputError::NotImageContentType {
            content_type: essence,
            looks_like: format!("a {video} video"),
        });
    }
    let (width, height) = video
        .dimensions(bytes)
        .filter(|(w, h)| *w > 0 && *h > 0)
        .ok_or_else(|| OutputError::UnsupportedImage {
            looks_like: format!("a {video} file without a readable video track"),
        })?;
    Ok(MediaInfo {
        mime: video.mime(),
        extension: video.extension(),
        width,
        height,
        class: MediaClass::Video,
    })
}

/// A result that is now on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMedia {
    pub path: std::path::PathBuf,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub class: MediaClass,
}

impl OutputRoot {
    /// Saves a still image, an animation or a video with the guarantees of
    /// [`OutputRoot::save`]. Animations and videos keep their bytes whatever `format` asks:
    /// converting would keep one frame, and easel has no video encoder.
    ///
    /// `record` is called with the file as it will be and the SHA-256 of its bytes just
    /// before it takes its name (see [`OutputRoot::save_recorded`]).
    pub fn save_media(
        &self,
        req: &SaveRequest<'_>,
        record: &mut dyn FnMut(&SavedMedia, &str) -> Result<(), String>,
    ) -> Result<SavedMedia, OutputError> {
        let info = inspect_media(req.bytes, None)?;
        if info.class != MediaClass::Video {
            let class = info.class;
            let req = if class == MediaClass::Animation {
                SaveRequest {
                    format: OutputFormat::Original,
                    ..*req
                }
            } else {
                *req
            };
            let media = move |saved: &super::save::SavedFile| SavedMedia {
                mime: saved.mime(),
                path: saved.path.clone(),
                width: saved.width,
                height: saved.height,
                bytes: saved.bytes,
                class,
            };
            let saved = self.save_recorded(&req, &mut |file, sha| record(&media(file), sha))?;
            return Ok(media(&saved));
        }
        let stem =
            super::save::checked_names(req, |s| strip_video_extension(strip_image_extension(s)))?;
        let dir = self.resolve_dir(req.dir)?;
        let sha256 = super::digest::sha256_hex(req.bytes);
        let planned = |path: &std::path::Path| SavedMedia {
            path: path.to_path_buf(),
            mime: info.mime,
            width: info.width,
            height: info.height,
            bytes: req.bytes.len() as u64,
            class: MediaClass::Video,
        };
        let path = write_new_file(&dir, stem, info.extension, req.bytes, &mut |path| {
            record(&planned(path), &sha256)
        })?;
        tracing::debug!(path = %path.display(), mime = info.mime, bytes = req.bytes.len(), "saved video");
        Ok(planned(&path))
    }
}

/// `clip.mp4` → `clip`: the real extension follows the bytes.
fn strip_video_extension(stem: &str) -> &str {
    for ext in [".mp4", ".webm", ".MP4", ".WEBM"] {
        if let Some(s) = stem.strip_suffix(ext)
            && !s.is_empty()
        {
            return s;
        }
    }
    stem
}

/// Previews for saved results: stills and animations as [`plan_previews`] makes them (an
/// animation by its first frame), videos never inline, with a note saying why.
pub fn plan_media_previews(files: &[&[u8]], mode: PreviewMode) -> PreviewPlan {
    let videos: Vec<(usize, VideoKind)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, b)| VideoKind::sniff(b).map(|k| (i, k)))
        .collect();
    if videos.is_empty() {
        return plan_previews(files, mode);
    }
    if mode == PreviewMode::None {
        return PreviewPlan::default();
    }
    let stills: Vec<&[u8]> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| !videos.iter().any(|(v, _)| v == i))
        .map(|(_, b)| *b)
        .collect();
    let mut plan = if stills.is_empty() {
        PreviewPlan::default()
    } else {
        plan_previews(&stills, mode)
    };
    let mut notes: Vec<String> = videos
        .iter()
        .map(|(i, kind)| {
            format!(
                "file {}: no inline preview, it is a {kind} video and easel has no video decoder; open the file, or read its resource",
                i + 1
            )
        })
        .collect();
    if let Some(more) = plan.note.take() {
        notes.push(format!(
            "Of the {} still image(s), numbered among themselves: {more}",
            stills.len()
        ));
    }
    plan.note = Some(notes.join(" "));
    plan
}

/// MP4: the first `moov/trak/tkhd` with a non-zero size (audio tracks have none).
fn mp4_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let moov = iso_boxes(bytes).into_iter().find(|(t, _)| t == b"moov")?.1;
    for (kind, trak) in iso_boxes(moov) {
        if &kind != b"trak" {
            continue;
        }
        let Some((_, tkhd)) = iso_boxes(trak).into_iter().find(|(t, _)| t == b"tkhd") else {
            continue;
        };
        // Version 1 has 64-bit times: 12 more bytes before the size.
        let at = if tkhd.first() == Some(&1) { 88 } else { 76 };
        let fixed = |o: usize| {
            tkhd.get(o..o + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) >> 16)
        };
        if let (Some(w), Some(h)) = (fixed(at), fixed(at + 4))
            && w > 0
            && h > 0
        {
            return Some((w, h));
        }
    }
    None
}

/// The boxes of one level of an ISO media file, as (type, body); stops at a malformed box.
fn iso_boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(head) = data.get(at..at + 8) {
        let size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let kind = [head[4], head[5], head[6], head[7]];
        let (header, size) = match size {
            0 => (8, (data.len() - at) as u64),
            1 => match data.get(at + 8..at + 16) {
                Some(b) => (16, u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
                None => break,
            },
            n => (8, n),
        };
        let Ok(size) = usize::try_from(size) else {
            break;
        };
        if size < header {
            break;
        }
        let Some(body) = data.get(at + header..at.saturating_add(size)) else {
            break;
        };
        out.push((kind, body));
        at += size;
    }
    out
}

/// WebM: Segment → Tracks → TrackEntry → Video → PixelWidth / PixelHeight.
fn webm_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let segment = ebml::find(bytes, 0x1853_8067)?;
    let tracks = ebml::find(segment, 0x1654_AE6B)?;
    for (id, entry) in ebml::children(tracks) {
        if id != 0xAE {
            continue;
        }
        let Some(video) = ebml::find(entry, 0xE0) else {
            continue;
        };
        let w = ebml::find(video, 0xB0).map(ebml::uint)?;
        let h = ebml::find(video, 0xBA).map(ebml::uint)?;
        return Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?));
    }
    None
}

/// The little of EBML (Matroska, WebM) needed to find a track's size.
mod ebml {
    /// A variable-length integer at the start of `data`: (value, length); `keep_marker` for
    /// element ids, which are written with their length marker.
    fn vint(data: &[u8], keep_marker: bool) -> Option<(u64, usize)> {
        let first = *data.first()?;
        let len = first.leading_zeros() as usize + 1;
        if len > 8 {
            return None;
        }
        let bytes = data.get(..len)?;
        let mut value = if keep_marker {
            u64::from(first)
        } else {
            u64::from(first) & (0xFF >> len)
        };
        for b in &bytes[1..] {
            value = (value << 8) | u64::from(*b);
        }
        Some((value, len))
    }

    /// The elements of one level, as (id, body). An element of unknown size (all ones, as
    /// live-written files have) runs to the end of its parent.
    pub fn children(data: &[u8]) -> Vec<(u64, &[u8])> {
        let mut out = Vec::new();
        let mut at = 0usize;
        while at < data.len() {
            let Some((id, id_len)) = vint(&data[at..], true) else {
                break;
            };
            let Some((size, size_len)) = vint(&data[at + id_len..], false) else {
                break;
            };
            let start = at + id_len + size_len;
            let unknown = size == (1u64 << (7 * size_len)) - 1;
            let end = if unknown {
                data.len()
            } else {
                match usize::try_from(size)
                    .ok()
                    .and_then(|s| start.checked_add(s))
                {
                    Some(end) if end <= data.len() => end,
                    _ => break,
                }
            };
            out.push((id, &data[start..end]));
            at = end;
        }
        out
    }

    /// The body of the first child with `id`.
    pub fn find(data: &[u8], id: u64) -> Option<&[u8]> {
        children(data)
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, b)| b)
    }

    pub fn uint(body: &[u8]) -> u64 {
        body.iter().take(8).fold(0, |v, b| (v << 8) | u64::from(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::test_images::{TINY_GIF, encode, noise};

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    #[test]
    fn videos_are_known_by_their_bytes_and_sized_from_the_container() {
        let mp4 = easel_sim::clip::mp4(320, 240, &keys(3), 24.0);
        let webm = easel_sim::clip::webm(640, 360, &keys(3), 24.0);
        let info = inspect_media(&mp4, Some("video/mp4")).expect("mp4");
        assert_eq!(
            (
                info.mime,
                info.extension,
                info.width,
                info.height,
                info.class
            ),
            ("video/mp4", "mp4", 320, 240, MediaClass::Video)
        );
        let info = inspect_media(&webm, Some("application/octet-stream")).expect("webm");
        assert_eq!(
            (info.mime, info.width, info.height),
            ("video/webm", 640, 360)
        );
        // A video served as an image page is refused; a truncated container too.
        assert!(inspect_media(&mp4, Some("text/html")).is_err());
        assert!(inspect_media(&mp4[..40], None).is_err());
        // AVIF is ISO media too, but a still image easel does not keep.
        let mut avif = mp4.clone();
        avif[8..12].copy_from_slice(b"avif");
        assert!(inspect_media(&avif, None).is_err());
    }

    #[test]
    fn animations_are_told_from_stills() {
        let webp = easel_sim::clip::animated_webp(24, 16, &keys(3), 6.0);
        let apng = easel_sim::clip::apng(24, 16, &keys(3), 6.0);
        for bytes in [&webp, &apng] {
            let info = inspect_media(bytes, None).expect("animation");
            assert_eq!(
                (info.class, info.width, info.height),
                (MediaClass::Animation, 24, 16)
            );
        }
        let still = encode(&noise(8, 8, 1), ImageKind::Png);
        assert_eq!(
            inspect_media(&still, None).expect("png").class,
            MediaClass::Still
        );
        assert_eq!(
            inspect_media(TINY_GIF, None).expect("gif").class,
            MediaClass::Still
        );
    }

    #[test]
    fn videos_are_saved_as_they_are_and_animations_are_never_converted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        let mp4 = easel_sim::clip::mp4(64, 32, &keys(2), 8.0);
        let saved = root
            .save_media(
                &SaveRequest {
                    dir: Some("clips"),
                    stem: "wan.png",
                    bytes: &mp4,
                    format: OutputFormat::Jpeg,
                },
                &mut |_, _| Ok(()),
            )
            .expect("saved");
        assert_eq!(saved.path, root.path().join("clips/wan.mp4"));
        assert_eq!(std::fs::read(&saved.path).expect("read"), mp4);
        assert_eq!((saved.mime, saved.class), ("video/mp4", MediaClass::Video));
        let webp = easel_sim::clip::animated_webp(24, 16, &keys(3), 6.0);
        let saved = root
            .save_media(
                &SaveRequest {
                    dir: None,
                    stem: "loop",
                    bytes: &webp,
                    format: OutputFormat::Png,
                },
                &mut |_, _| Ok(()),
            )
            .expect("saved");
        assert_eq!(std::fs::read(&saved.path).expect("read"), webp, "kept");
        assert_eq!(saved.mime, "image/webp");
    }

    #[test]
    fn videos_get_a_note_and_animations_their_first_frame() {
        let mp4 = easel_sim::clip::mp4(64, 32, &keys(2), 8.0);
        let webp = easel_sim::clip::animated_webp(48, 32, &keys(3), 6.0);
        let plan = plan_media_previews(&[&mp4, &webp], PreviewMode::Thumbnail);
        assert_eq!(plan.previews.len(), 1);
        assert_eq!((plan.previews[0].width, plan.previews[0].height), (48, 32));
        let note = plan.note.expect("note");
        assert!(
            note.contains("file 1: no inline preview") && note.contains("MP4 video"),
            "{note}"
        );
        assert_eq!(
            plan_media_previews(&[&mp4], PreviewMode::None),
            PreviewPlan::default()
        );
    }
}
