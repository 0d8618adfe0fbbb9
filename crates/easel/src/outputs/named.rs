//! Files a caller names: where easel may read them from, and reading them safely.
//!
//! A caller (an AI model that may be prompt-injected, or any HTTP client) names files to edit,
//! to publish or to read prompts from. Such a name is an attack surface: it must never let a
//! caller learn anything about a file outside the places easel reads from. So the rule is the
//! same for every caller: the *place* is checked first, without opening anything (a path
//! relative to the output root, or an absolute path that resolves, links followed, inside the
//! output root or a configured `input_dirs` folder); only then is the file opened, with a size
//! bound checked before reading, and re-checked through the opened descriptor so that a link
//! swapped in between cannot redirect the read. Messages say what kind of thing a file is,
//! never what it contains.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::fspath::{join_relative, simplified, within, within_as_written};
use super::kind::{ImageInfo, inspect_named};
use super::names::validate_relative_dir;
use super::root::OutputRoot;

/// Largest file a caller may name: the same bound as an image download.
pub const MAX_NAMED_BYTES: u64 = 64 * 1024 * 1024;

/// The places a caller's file names may point into: the output root and the configured
/// `input_dirs` folders (kept canonical, so "inside" is a prefix check).
#[derive(Debug, Clone)]
pub struct InputRoots {
    output: OutputRoot,
    input_dirs: Vec<PathBuf>,
}

impl InputRoots {
    /// `input_dirs` that do not exist (yet) are kept by their given path and match nothing
    /// until they resolve.
    pub fn new(output: OutputRoot, input_dirs: &[PathBuf]) -> Self {
        let input_dirs = input_dirs
            .iter()
            .map(|d| d.canonicalize().map_or_else(|_| d.clone(), simplified))
            .collect();
        Self { output, input_dirs }
    }

    pub fn output(&self) -> &OutputRoot {
        &self.output
    }

    /// Whether the canonical `real` path lies inside one of the places.
    fn holds(&self, real: &Path) -> bool {
        self.output.holds_path(real) || self.input_dirs.iter().any(|d| within(real, d))
    }

    /// The canonical path of the regular file `text` names, checked to lie inside the output
    /// root or an input folder. Nothing is opened: only the path is resolved. The error is a
    /// reason to follow the caller's label, e.g. "is outside the output root …".
    pub fn locate(&self, text: &str) -> Result<PathBuf, String> {
        let label = text.trim();
        if label.is_empty() {
            return Err("is empty".into());
        }
        if label.contains('\0') {
            return Err("contains a NUL character".into());
        }
        let given = Path::new(label);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            validate_relative_dir(label).map_err(|e| match e {
                super::OutputError::InvalidDir { reason, .. } => reason,
                other => other.to_string(),
            })?;
            // One component at a time: `cats\a.png` is `cats/a.png` everywhere, and on
            // Windows a verbatim root would take `/` literally.
            join_relative(self.output.path(), label)
        };
        let real = match joined.canonicalize() {
            Ok(real) => real,
            // Only say "does not exist" for names inside the places: for anything else the
            // answer would tell a caller which files exist elsewhere.
            Err(_) if given.is_absolute() && !self.holds_lexically(given) => {
                return Err(OUTSIDE.into());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("does not exist".into());
            }
            Err(_) => return Err("cannot be resolved".into()),
        };
        if !self.holds(&real) {
            return Err(OUTSIDE.into());
        }
        if !real.is_file() {
            return Err("is not a regular file".into());
        }
        Ok(real)
    }

    /// Whether an absolute path, as written, starts inside a place (before links resolve).
    /// A `..` component answers no: `<root>/../etc/x` must not tell "missing" from "exists".
    fn holds_lexically(&self, given: &Path) -> bool {
        within_as_written(given, self.output.path())
            || self.input_dirs.iter().any(|d| within_as_written(given, d))
    }

    /// Reads the file at `real` (a path [`Self::locate`] returned), at most `limit` bytes.
    /// Blocking.
    pub fn read(&self, real: &Path, limit: u64) -> Result<Vec<u8>, String> {
        read_bounded(real, limit, |file| self.check_opened(file))
    }

    /// Reads and checks an image file `text` names; returns its canonical path, bytes and
    /// type. Blocking.
    pub fn read_image(&self, text: &str) -> Result<(PathBuf, Vec<u8>, ImageInfo), String> {
        let real = self.locate(text)?;
        let bytes = self.read(&real, MAX_NAMED_BYTES)?;
        let info = inspect_named(&bytes)?;
        Ok((real, bytes, info))
    }

    /// On Linux, where the opened descriptor really points: a link swapped into the path
    /// after [`Self::locate`] checked it is caught here, before a byte is read.
    #[cfg(target_os = "linux")]
    fn check_opened(&self, file: &File) -> Result<(), String> {
        use std::os::fd::AsRawFd;
        match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            Ok(real) if !self.holds(&real) => Err(OUTSIDE.into()),
            // Without /proc (some sandboxes) the earlier check stands alone.
            _ => Ok(()),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn check_opened(&self, _file: &File) -> Result<(), String> {
        Ok(())
    }
}

const OUTSIDE: &str = "is outside the output root and every input_dirs folder";

/// Reads a local image a request carries (a path checked when the request was made) again
/// when it is sent: bounded, without following a link put in its place, never quoted.
/// Blocking.
pub fn read_source_image(path: &Path) -> Result<(Vec<u8>, ImageInfo), String> {
    let bytes = read_bounded(path, MAX_NAMED_BYTES, |_| Ok(()))?;
    let info = inspect_named(&bytes)?;
    Ok((bytes, info))
}

/// Opens `path` (no final link, no FIFO wait), lets `check` look at the descriptor, and reads
/// at most `limit` bytes, refusing before reading when the file is larger.
fn read_bounded(
    path: &Path,
    limit: u64,
    check: impl Fn(&File) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    let file = open_no_follow(path).map_err(|e| format!("cannot be opened ({})", e.kind()))?;
    check(&file)?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot be read ({})", e.kind()))?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > limit {
        return Err(format!(
            "is {} MiB, more than the {} MiB easel reads",
            meta.len().div_ceil(1 << 20),
            limit >> 20
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read ({})", e.kind()))?;
    if bytes.len() as u64 > limit {
        return Err(format!("grew past the {} MiB easel reads", limit >> 20));
    }
    Ok(bytes)
}

/// Opens for reading without following a final symbolic link and without blocking on a FIFO.
pub(super) fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::ImageKind;
    use crate::outputs::test_images::{encode, noise};

    fn roots(tmp: &Path) -> InputRoots {
        let output = OutputRoot::new(tmp.join("out")).expect("root");
        std::fs::create_dir_all(tmp.join("inputs")).expect("inputs");
        InputRoots::new(output, &[tmp.join("inputs")])
    }

    #[test]
    fn files_outside_every_place_are_refused_without_reading_them() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        let secret = tmp.path().join("secret.txt");
        std::fs::write(&secret, "root:x:0:0:root:/root:/bin/bash").expect("write");
        for name in [
            secret.display().to_string(),
            "/etc/passwd".into(),
            "../secret.txt".into(),
            "/nonexistent/where".into(),
        ] {
            let err = roots.read_image(&name).expect_err(&name);
            assert!(!err.contains("root:x"), "{name}: {err}");
            // On Windows "/etc/passwd" has no drive: refused as written, never resolved.
            assert!(
                err.contains("outside") || err.contains("leaves") || err.contains("absolute"),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn parent_components_do_not_reveal_which_outside_files_exist() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        std::fs::write(tmp.path().join("exists.txt"), "x").expect("write");
        let root = roots.output().path().display().to_string();
        let sep = std::path::MAIN_SEPARATOR;
        let present = format!("{root}{sep}..{sep}exists.txt");
        let missing = format!("{root}{sep}..{sep}missing.txt");
        assert_eq!(roots.locate(&present).expect_err("present"), OUTSIDE);
        assert_eq!(roots.locate(&missing).expect_err("missing"), OUTSIDE);
        let inside_missing = format!("{root}{sep}missing.png");
        assert_eq!(
            roots.locate(&inside_missing).expect_err("inside"),
            "does not exist"
        );
    }

    #[test]
    fn both_separators_name_the_same_file_on_every_os() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        let dir = roots.output().resolve_dir(Some("cats/2026")).expect("dir");
        std::fs::write(dir.join("a.png"), b"x").expect("write");
        let want = dir.join("a.png").canonicalize().expect("real");
        for name in ["cats/2026/a.png", "cats\\2026\\a.png", "./cats//2026/a.png"] {
            let got = roots.locate(name).expect(name);
            assert_eq!(got.canonicalize().expect("real"), want, "{name}");
            assert!(roots.output().contains(Path::new(name)), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_inside_pointing_out_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        let secret = tmp.path().join("secret.txt");
        std::fs::write(&secret, "PRIVATE KEY").expect("write");
        std::os::unix::fs::symlink(&secret, roots.output().path().join("x.png")).expect("link");
        let err = roots.read_image("x.png").expect_err("escapes");
        assert!(err.contains("outside"), "{err}");
        assert!(!err.contains("PRIVATE"), "{err}");
    }

    #[test]
    fn text_inside_the_root_is_described_not_quoted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        std::fs::write(roots.output().path().join("notes.png"), "password=hunter2").expect("w");
        let err = roots.read_image("notes.png").expect_err("text");
        assert!(err.contains("text"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn images_in_the_root_and_input_folders_are_read() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        let png = encode(&noise(8, 6, 1), ImageKind::Png);
        std::fs::write(roots.output().path().join("a.png"), &png).expect("w");
        std::fs::write(tmp.path().join("inputs/b.png"), &png).expect("w");
        let (_, bytes, info) = roots.read_image("a.png").expect("root");
        assert_eq!((bytes.len(), info.width, info.height), (png.len(), 8, 6));
        let abs = tmp.path().join("inputs/b.png").display().to_string();
        assert!(roots.read_image(&abs).is_ok());
        assert_eq!(
            roots.read_image("missing.png").expect_err("missing"),
            "does not exist"
        );
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        let path = roots.output().path().join("big.png");
        let file = File::create(&path).expect("create");
        file.set_len(MAX_NAMED_BYTES + 1).expect("sparse");
        let real = roots.locate("big.png").expect("inside");
        let err = roots.read(&real, MAX_NAMED_BYTES).expect_err("big");
        assert!(err.contains("MiB"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_folders_are_not_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = roots(tmp.path());
        std::fs::create_dir(roots.output().path().join("dir.png")).expect("dir");
        assert_eq!(
            roots.read_image("dir.png").expect_err("dir"),
            "is not a regular file"
        );
        let fifo = roots.output().path().join("pipe.png");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        assert_eq!(
            roots.read_image("pipe.png").expect_err("fifo"),
            "is not a regular file"
        );
    }
}
