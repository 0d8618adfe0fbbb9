//! The simulated `input`, `output` and `temp` folders, kept in memory, with ComfyUI's
//! path rules: how `/view` resolves and refuses paths (contract 6.1), how uploads are
//! named and deduplicated (6.2), and how `SaveImage` picks its file names (section 2).
//!
//! Paths are handled as the Python server handles them (`os.path.join`, `normpath`,
//! `commonpath` on POSIX paths under [`ROOT`](super::traceback::ROOT)), so the same
//! requests are refused with the same codes and a bad `filename_prefix` fails with the
//! same message.

use std::collections::BTreeMap;
use std::io::Cursor;

use bytes::Bytes;

use super::traceback::ROOT;

/// One of the three folders ComfyUI serves files from (the `type` of a file triple).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Folder {
    /// Uploads and LoadImage sources.
    Input,
    /// SaveImage results.
    Output,
    /// PreviewImage results.
    Temp,
}

impl Folder {
    /// The folder for a `type` value.
    pub fn parse(name: &str) -> Option<Folder> {
        match name {
            "input" => Some(Folder::Input),
            "output" => Some(Folder::Output),
            "temp" => Some(Folder::Temp),
            _ => None,
        }
    }

    /// The `type` value.
    pub fn name(self) -> &'static str {
        match self {
            Folder::Input => "input",
            Folder::Output => "output",
            Folder::Temp => "temp",
        }
    }

    /// The absolute directory.
    pub fn dir(self) -> String {
        format!("{ROOT}/{}", self.name())
    }

    fn all() -> [Folder; 3] {
        [Folder::Input, Folder::Output, Folder::Temp]
    }
}

/// A stored file.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Its contents.
    pub bytes: Bytes,
    /// A hash of the contents: LoadImage's "changed" fingerprint and the upload
    /// duplicate check.
    pub hash: u64,
}

/// Every file of the three folders, by folder and path relative to it.
#[derive(Debug, Default)]
pub struct Files {
    files: BTreeMap<(Folder, String), Stored>,
}

/// Why `/view` gives no file.
#[derive(Debug, PartialEq)]
pub enum ViewError {
    /// 400: bad file name or unknown type.
    BadRequest,
    /// 403: the subfolder leaves the folder.
    Forbidden,
    /// 404: no such file (or no `filename`).
    NotFound,
}

impl Files {
    /// Stores `bytes` at `rel` (relative to `folder`), replacing what was there.
    pub fn put(&mut self, folder: Folder, rel: &str, bytes: Bytes) {
        let hash = fnv1a(&bytes);
        self.files
            .insert((folder, rel.to_owned()), Stored { bytes, hash });
    }

    /// The file at `rel` in `folder`.
    pub fn get(&self, folder: Folder, rel: &str) -> Option<&Stored> {
        self.files.get(&(folder, rel.to_owned()))
    }

    /// Files directly in the input folder, sorted: LoadImage's options (it lists only
    /// the top level; uploads to a subfolder are valid values but not listed).
    pub fn input_names(&self) -> Vec<String> {
        self.children(Folder::Input, "")
            .map(str::to_owned)
            .collect()
    }

    /// Names of the files directly in `dir` (relative to `folder`, "" for its root).
    fn children<'a>(&'a self, folder: Folder, dir: &'a str) -> impl Iterator<Item = &'a str> {
        self.files
            .keys()
            .filter(move |(f, _)| *f == folder)
            .filter_map(move |(_, rel)| {
                let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
                (parent == dir).then_some(name)
            })
    }

    /// The file an annotated name (`"sub/x.png"`, `"x.png [output]"`) refers to, as
    /// LoadImage resolves it (input folder unless annotated).
    pub fn annotated(&self, name: &str) -> Option<&Stored> {
        let (name, folder) = annotated_filepath(name);
        let path = normpath(&join(&folder.unwrap_or(Folder::Input).dir(), name));
        let (folder, rel) = locate(&path)?;
        self.get(folder, &rel)
    }

    /// `GET /view`: the file for these query values, and the name to report.
    pub fn view(
        &self,
        filename: Option<&str>,
        kind: Option<&str>,
        subfolder: Option<&str>,
    ) -> Result<(&Stored, String), ViewError> {
        let filename = filename.ok_or(ViewError::NotFound)?;
        let (filename, annotated) = annotated_filepath(filename);
        if filename.is_empty() {
            return Err(ViewError::BadRequest);
        }
        if filename.starts_with('/') || filename.contains("..") {
            return Err(ViewError::BadRequest);
        }
        let folder = match annotated {
            Some(folder) => folder,
            None => Folder::parse(kind.unwrap_or("output")).ok_or(ViewError::BadRequest)?,
        };
        let base = folder.dir();
        let mut dir = base.clone();
        if let Some(subfolder) = subfolder {
            let full = normpath(&join(&base, subfolder));
            if !inside(&full, &base) {
                return Err(ViewError::Forbidden);
            }
            dir = full;
        }
        let name = filename.rsplit('/').next().unwrap_or(filename).to_owned();
        let path = normpath(&join(&dir, &name));
        let rel = relative(&path, &base).ok_or(ViewError::NotFound)?;
        let stored = self.get(folder, &rel).ok_or(ViewError::NotFound)?;
        Ok((stored, name))
    }

    /// `POST /upload/image`: stores the upload under ComfyUI's naming rules and returns
    /// the name it got, or `None` for a path that leaves the folder (400).
    ///
    /// Without `overwrite`, an existing file with the same bytes is reused, and a
    /// different one pushes the name on to `name (1).png`, `name (2).png`, …
    pub fn upload(
        &mut self,
        folder: Folder,
        subfolder: &str,
        filename: &str,
        bytes: Bytes,
        overwrite: bool,
    ) -> Option<String> {
        let base = folder.dir();
        let dir = join(&base, &normpath(subfolder));
        let path = normpath(&join(&dir, filename));
        if !inside(&path, &base) || path == base {
            return None;
        }
        let (stem, ext) = splitext(filename);
        let mut name = filename.to_owned();
        let mut rel = relative(&path, &base)?;
        let hash = fnv1a(&bytes);
        if !overwrite {
            let mut i = 1;
            while let Some(existing) = self.get(folder, &rel) {
                if existing.hash == hash && existing.bytes == bytes {
                    return Some(name);
                }
                name = format!("{stem} ({i}){ext}");
                rel = relative(&normpath(&join(&dir, &name)), &base)?;
                i += 1;
            }
        }
        self.put(folder, &rel, bytes);
        Some(name)
    }

    /// `folder_paths.get_save_image_path`: where `SaveImage` writes for this prefix, or
    /// the exception text for a prefix that leaves the output folder.
    pub fn save_path(
        &self,
        folder: Folder,
        prefix: &str,
        width: u32,
        height: u32,
    ) -> Result<SavePath, String> {
        let prefix = prefix
            .replace("%width%", &width.to_string())
            .replace("%height%", &height.to_string());
        let normalized = normpath(&prefix);
        let (subfolder, filename) = match normalized.rsplit_once('/') {
            Some((dir, name)) => (dir.to_owned(), name.to_owned()),
            None => (String::new(), normalized.clone()),
        };
        let base = folder.dir();
        let full = normpath(&join(&base, &subfolder));
        if !inside(&full, &base) {
            return Err(format!(
                "**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: {full}\n         output_dir: {base}\n         commonpath: {}",
                commonpath(&full, &base)
            ));
        }
        let dir = relative(&full, &base).unwrap_or_default();
        let counter = self
            .children(folder, &dir)
            .filter_map(|name| counter_of(name, &filename))
            .max()
            .map_or(1, |highest| highest + 1);
        Ok(SavePath {
            dir,
            subfolder,
            filename,
            counter,
        })
    }
}

/// Where a save goes: `{dir}/{filename}_{counter:05}_.png`.
#[derive(Debug)]
pub struct SavePath {
    /// The directory relative to the folder.
    pub dir: String,
    /// The `subfolder` reported to clients (as the prefix spelled it).
    pub subfolder: String,
    /// The file name prefix.
    pub filename: String,
    /// The first free counter.
    pub counter: u64,
}

impl SavePath {
    /// The relative path of the file with this counter.
    pub fn rel(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.dir)
        }
    }
}

/// `map_filename` of `get_save_image_path`: the counter of an existing file named
/// `{prefix}_{digits}…`; other names starting with `{prefix}_` count as 0.
fn counter_of(name: &str, prefix: &str) -> Option<u64> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('_')?;
    let digits = rest.split('_').next().unwrap_or("");
    Some(digits.trim().parse::<u64>().unwrap_or(0))
}

/// `folder_paths.annotated_filepath`: a trailing ` [output]`, ` [input]` or ` [temp]`
/// names the folder.
fn annotated_filepath(name: &str) -> (&str, Option<Folder>) {
    for (suffix, folder) in [
        ("[output]", Folder::Output),
        ("[input]", Folder::Input),
        ("[temp]", Folder::Temp),
    ] {
        if name.ends_with(suffix) {
            // Python slices off one more character, the space before the bracket.
            let keep = name.len().saturating_sub(suffix.len() + 1);
            let base = name.get(..keep).unwrap_or("");
            return (base, Some(folder));
        }
    }
    (name, None)
}

/// The folder and relative path of an absolute path, if it is inside one.
fn locate(path: &str) -> Option<(Folder, String)> {
    Folder::all()
        .into_iter()
        .find_map(|folder| Some((folder, relative(path, &folder.dir())?)))
}

/// `os.path.join(a, b)` for two parts.
fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') {
        b.to_owned()
    } else if a.ends_with('/') || a.is_empty() {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `os.path.normpath` (POSIX).
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// True if absolute `path` is `base` or below it (`commonpath((base, path)) == base`).
fn inside(path: &str, base: &str) -> bool {
    path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `path` relative to `base`, if inside it ("" for `base` itself).
fn relative(path: &str, base: &str) -> Option<String> {
    if path == base {
        return Some(String::new());
    }
    path.strip_prefix(base)?
        .strip_prefix('/')
        .map(str::to_owned)
}

/// `os.path.commonpath` of two absolute normalized paths.
fn commonpath(a: &str, b: &str) -> String {
    let common: Vec<&str> = a
        .split('/')
        .zip(b.split('/'))
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    let joined = common.join("/");
    if joined.is_empty() {
        "/".to_owned()
    } else {
        joined
    }
}

/// `os.path.splitext`: the extension is the last dot suffix that does not start the
/// name.
fn splitext(name: &str) -> (&str, &str) {
    let base_start = name.rfind('/').map_or(0, |i| i + 1);
    let base = &name[base_start..];
    let leading = base.len() - base.trim_start_matches('.').len();
    match base.rfind('.') {
        Some(dot) if dot >= leading && dot > 0 => name.split_at(base_start + dot),
        _ => (name, ""),
    }
}

/// 64-bit FNV-1a: stable across builds, enough to tell files apart.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The pixel size of an encoded image, if it is one the `image` crate reads.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// The `Content-Type` `/view` guesses from a file name (Python's `mimetypes`).
pub fn content_type(name: &str) -> &'static str {
    let ext = splitext(name).1.to_ascii_lowercase();
    match ext.as_str() {
        ".png" => "image/png",
        ".jpg" | ".jpeg" => "image/jpeg",
        ".webp" => "image/webp",
        ".gif" => "image/gif",
        ".mp4" => "video/mp4",
        ".webm" => "video/webm",
        ".bmp" => "image/bmp",
        ".json" => "application/json",
        ".txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// `/view` re-encodings: `preview=webp;Q` / `preview=jpeg;Q`, `channel=rgb`,
/// `channel=a`. `None` when the file is served as is; an error when it is not an image
/// (the real server fails with 500 there).
pub fn reencode(
    bytes: &[u8],
    preview: Option<&str>,
    channel: Option<&str>,
) -> Option<Result<(Vec<u8>, &'static str), image::ImageError>> {
    use image::ImageFormat;
    let asked_channel = channel.unwrap_or("");
    let channel = channel.unwrap_or("rgba");
    if preview.is_none() && channel != "rgb" && channel != "a" {
        return None;
    }
    let run = || -> Result<(Vec<u8>, &'static str), image::ImageError> {
        let img = image::load_from_memory(bytes)?;
        let mut out = Cursor::new(Vec::new());
        if let Some(preview) = preview {
            let mut parts = preview.split(';');
            let requested = parts.next().unwrap_or("");
            let quality = preview
                .rsplit(';')
                .next()
                .and_then(|q| q.parse::<u8>().ok())
                .unwrap_or(90);
            if requested == "jpeg" && !asked_channel.contains('a') {
                let rgb = img.to_rgb8();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                    .encode_image(&rgb)?;
                return Ok((out.into_inner(), "image/jpeg"));
            }
            let converted = if channel == "rgb" {
                image::DynamicImage::ImageRgb8(img.to_rgb8())
            } else {
                image::DynamicImage::ImageRgba8(img.to_rgba8())
            };
            converted.write_to(&mut out, ImageFormat::WebP)?;
            return Ok((out.into_inner(), "image/webp"));
        }
        if channel == "rgb" {
            image::DynamicImage::ImageRgb8(img.to_rgb8()).write_to(&mut out, ImageFormat::Png)?;
        } else {
            let mut alpha = img.to_rgba8();
            for px in alpha.pixels_mut() {
                px.0 = [0, 0, 0, px.0[3]];
            }
            image::DynamicImage::ImageRgba8(alpha).write_to(&mut out, ImageFormat::Png)?;
        }
        Ok((out.into_inner(), "image/png"))
    };
    Some(run())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png() -> Bytes {
        Bytes::from(crate::picture::png(4, 3, "t"))
    }

    #[test]
    fn view_rules_match_the_capture() {
        let mut files = Files::default();
        files.put(Folder::Output, "a_00001_.png", png());
        files.put(Folder::Output, "sub/b.png", png());
        assert!(files.view(Some("a_00001_.png"), None, Some("")).is_ok());
        assert!(
            files
                .view(Some("b.png"), Some("output"), Some("sub"))
                .is_ok()
        );
        assert!(
            files
                .view(Some("b.png [output]"), Some("bogus"), Some("sub"))
                .is_ok()
        );
        let err = |f, t, s| files.view(f, t, s).err();
        assert_eq!(err(None, None, None), Some(ViewError::NotFound));
        assert_eq!(
            err(Some("nope.png"), Some("output"), None),
            Some(ViewError::NotFound)
        );
        assert_eq!(
            err(Some("../secret.png"), Some("output"), None),
            Some(ViewError::BadRequest)
        );
        assert_eq!(
            err(Some("a_00001_.png"), Some("bogus"), None),
            Some(ViewError::BadRequest)
        );
        assert_eq!(
            err(Some("a_00001_.png"), Some("output"), Some("../..")),
            Some(ViewError::Forbidden)
        );
        assert_eq!(
            err(Some("a_00001_.png"), Some("output"), Some("/etc")),
            Some(ViewError::Forbidden)
        );
    }

    #[test]
    fn uploads_dedupe_by_content_and_rename() {
        let mut files = Files::default();
        let a = Bytes::from_static(b"aaaa");
        let b = Bytes::from_static(b"bbbb");
        let c = Bytes::from_static(b"cccc");
        assert_eq!(
            files
                .upload(Folder::Input, "mcp", "p.png", a.clone(), false)
                .as_deref(),
            Some("p.png")
        );
        assert_eq!(
            files
                .upload(Folder::Input, "mcp", "p.png", a, false)
                .as_deref(),
            Some("p.png")
        );
        assert_eq!(
            files
                .upload(Folder::Input, "mcp", "p.png", b.clone(), false)
                .as_deref(),
            Some("p (1).png")
        );
        assert_eq!(
            files
                .upload(Folder::Input, "mcp", "p.png", b, false)
                .as_deref(),
            Some("p (1).png")
        );
        assert_eq!(
            files
                .upload(Folder::Input, "mcp", "p.png", c.clone(), false)
                .as_deref(),
            Some("p (2).png")
        );
        assert_eq!(
            files
                .upload(Folder::Input, "mcp", "p.png", c, true)
                .as_deref(),
            Some("p.png")
        );
        assert_eq!(
            files.upload(Folder::Input, "../..", "p.png", png(), false),
            None
        );
        assert!(files.annotated("mcp/p (2).png").is_some());
        assert!(files.input_names().is_empty());
    }

    #[test]
    fn save_counters_continue_per_prefix_and_folder() {
        let mut files = Files::default();
        let first = files
            .save_path(Folder::Output, "easel/sub/run", 8, 8)
            .unwrap();
        assert_eq!(
            (
                first.subfolder.as_str(),
                first.filename.as_str(),
                first.counter
            ),
            ("easel/sub", "run", 1)
        );
        files.put(Folder::Output, &first.rel("run_00001_.png"), png());
        files.put(Folder::Output, &first.rel("run_00002_.png"), png());
        files.put(Folder::Output, "run_00009_.png", png());
        assert_eq!(
            files
                .save_path(Folder::Output, "easel/sub/run", 8, 8)
                .unwrap()
                .counter,
            3
        );
        assert_eq!(
            files
                .save_path(Folder::Output, "run", 8, 8)
                .unwrap()
                .counter,
            10
        );
        let error = files
            .save_path(Folder::Output, "../../x", 8, 8)
            .unwrap_err();
        assert!(
            error.starts_with("**** ERROR: Saving image outside the output folder is not allowed.")
        );
        assert!(error.ends_with("commonpath: /opt"), "{error}");
    }

    #[test]
    fn path_helpers_behave_like_python() {
        assert_eq!(normpath("a//b/./c/../d"), "a/b/d");
        assert_eq!(normpath("../../x"), "../../x");
        assert_eq!(normpath("/a/../../b"), "/b");
        assert_eq!(splitext("probe.tar.png"), ("probe.tar", ".png"));
        assert_eq!(splitext(".hidden"), (".hidden", ""));
    }
}
