//! The output root: the one folder every saved image must end up inside.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::OutputError;
use super::fspath::{join_relative, simplified, within};
use super::named::open_no_follow;
use super::names::validate_relative_dir;

/// The folder images are saved under, canonical (absolute, symbolic links resolved), so that
/// "is this inside the root" is a prefix check on canonical paths. On Windows it is kept in the
/// plain `C:\…` form when that names the same folder (see [`super::fspath`]): it is what
/// results show and what other programs are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRoot {
    root: PathBuf,
}

impl OutputRoot {
    /// Uses `root` as the output root, creating it (and its parents) if missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, OutputError> {
        let path = root.into();
        let fail = |action: &'static str, cause: io::Error| OutputError::Root {
            action,
            path: path.clone(),
            cause,
        };
        fs::create_dir_all(&path).map_err(|e| fail("create it", e))?;
        let root = simplified(fs::canonicalize(&path).map_err(|e| fail("resolve it", e))?);
        if !root.is_dir() {
            return Err(fail(
                "use it as a folder",
                io::Error::other("it is not a folder"),
            ));
        }
        Ok(Self { root })
    }

    /// The canonical path of the root.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The canonical folder for `output_dir` value `rel` (`None` or `""`: the root itself),
    /// created if missing.
    ///
    /// Folders are walked one at a time, and an existing one (possibly a symbolic link) is
    /// resolved and checked before anything is created beneath it, so a link pointing outside
    /// the root is refused without creating folders out there. (A concurrent swap of a checked
    /// folder for a link is not defended against; that needs `openat`-style APIs.)
    pub fn resolve_dir(&self, rel: Option<&str>) -> Result<PathBuf, OutputError> {
        let value = rel.unwrap_or("");
        validate_relative_dir(value)?;
        let io_error = |action: &'static str, path: &Path, cause: io::Error| OutputError::DirIo {
            value: value.to_owned(),
            action,
            path: path.to_owned(),
            cause,
        };
        let mut current = self.root.clone();
        for part in value
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != ".")
        {
            let next = current.join(part);
            match fs::create_dir(&next) {
                // A folder just made inside a checked folder is inside the root.
                Ok(()) => current = next,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let real = simplified(
                        fs::canonicalize(&next).map_err(|e| io_error("resolve", &next, e))?,
                    );
                    self.check_inside(value, &real)?;
                    if !real.is_dir() {
                        return Err(OutputError::NotADirectory {
                            value: value.to_owned(),
                            path: next,
                        });
                    }
                    current = real;
                }
                Err(e) => return Err(io_error("create the folder", &next, e)),
            }
        }
        let real =
            simplified(fs::canonicalize(&current).map_err(|e| io_error("resolve", &current, e))?);
        self.check_inside(value, &real)?;
        Ok(real)
    }

    /// Whether `path` (absolute, or relative to the root) exists and really is inside the root
    /// once symbolic links are resolved. For serving files back to clients.
    pub fn contains(&self, path: &Path) -> bool {
        let joined = match path.to_str() {
            // Relative text goes on one component at a time, `/` and `\` alike (a verbatim
            // root on Windows takes `/` literally).
            Some(rel) if path.is_relative() => join_relative(&self.root, rel),
            _ => self.root.join(path),
        };
        fs::canonicalize(joined).is_ok_and(|real| self.holds_path(&real))
    }

    /// Opens `path` for reading only if the file opened is inside the root: the path is
    /// resolved and checked, opened, then resolved again and compared with the open file
    /// (device and inode), so a folder or file swapped for a symbolic link between the
    /// check and the open is refused, not served. For serving saved files to browsers.
    pub fn open_inside(&self, path: &Path) -> io::Result<(fs::File, fs::Metadata)> {
        let outside = || {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the file is not inside the output root",
            )
        };
        let real = simplified(fs::canonicalize(path)?);
        if !self.holds_path(&real) {
            return Err(outside());
        }
        let not_a_file = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        // A FIFO or a device is not opened at all: opening a FIFO for reading waits for a
        // writer, forever; opening a device can have effects of its own.
        if !fs::metadata(&real)?.is_file() {
            return Err(not_a_file());
        }
        // Without blocking on a FIFO swapped in after the type check, or following a final
        // link swapped in (the canonical path has none).
        let file = open_no_follow(&real)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(not_a_file());
        }
        let again = simplified(fs::canonicalize(path)?);
        if !self.holds_path(&again) || !same_file(&meta, &fs::metadata(&again)?) {
            return Err(outside());
        }
        Ok((file, meta))
    }

    /// Whether canonical `real` is the root or inside it, whatever form (verbatim or plain on
    /// Windows) each is in.
    pub(crate) fn holds_path(&self, real: &Path) -> bool {
        within(real, &self.root)
    }

    fn check_inside(&self, value: &str, real: &Path) -> Result<(), OutputError> {
        if self.holds_path(real) {
            Ok(())
        } else {
            Err(OutputError::DirEscapesRoot {
                value: value.to_owned(),
                resolved: real.to_owned(),
                root: self.root.clone(),
            })
        }
    }
}

/// Whether two metadata describe one file (on Unix, device and inode; elsewhere, which has
/// no portable identity, size and modification time).
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        a.len() == b.len() && a.modified().ok() == b.modified().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_created_and_canonical() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path().join("a/b/../c")).expect("root");
        assert!(root.path().is_dir());
        assert_eq!(
            root.path(),
            simplified(fs::canonicalize(tmp.path().join("a/c")).expect("c"))
        );
        // canonicalize gives \\?\C:\… on Windows; the root is kept as C:\… (what results
        // show and other programs take), and still holds what canonicalize returns.
        assert!(!root.path().to_string_lossy().starts_with(r"\\?\"));
        let inside = fs::canonicalize(root.resolve_dir(Some("x")).expect("x")).expect("real");
        assert!(root.holds_path(&inside), "{inside:?}");
    }

    #[test]
    fn root_that_is_a_file_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("file");
        fs::write(&file, b"x").expect("write");
        let err = OutputRoot::new(&file).expect_err("a file");
        assert_eq!(err.field(), None);
    }

    #[test]
    fn dirs_are_created_inside_the_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        assert_eq!(root.resolve_dir(None).expect("none"), root.path());
        assert_eq!(root.resolve_dir(Some("")).expect("empty"), root.path());
        let dir = root.resolve_dir(Some("cats//2026/./x\\y")).expect("nested");
        assert_eq!(dir, root.path().join("cats/2026/x/y"));
        assert!(dir.is_dir());
        assert_eq!(root.resolve_dir(Some("cats/2026/x/y")).expect("again"), dir);
    }

    #[test]
    fn traversal_is_refused_before_touching_the_disk() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path().join("root")).expect("root");
        for bad in [
            "..",
            "../x",
            "a/../../b",
            "/abs",
            "C:\\x",
            "\\\\srv\\s",
            "a\\..\\..\\b",
            "a\0b",
        ] {
            let err = root.resolve_dir(Some(bad)).expect_err(bad);
            assert_eq!(err.field(), Some("output_dir"), "{bad}");
        }
        let made: Vec<_> = fs::read_dir(tmp.path()).expect("list").collect();
        assert_eq!(made.len(), 1, "only the root exists");
        assert_eq!(fs::read_dir(root.path()).expect("list").count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_opened_only_inside_the_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path().join("root")).expect("root");
        let outside = tmp.path().join("secret.png");
        fs::write(&outside, b"secret").expect("secret");
        fs::write(root.path().join("fine.png"), b"fine").expect("fine");
        std::os::unix::fs::symlink(&outside, root.path().join("link.png")).expect("link");
        std::os::unix::fs::symlink(tmp.path(), root.path().join("up")).expect("dir link");
        assert!(root.open_inside(&root.path().join("fine.png")).is_ok());
        for bad in [
            outside.clone(),
            root.path().join("link.png"),
            root.path().join("up/secret.png"),
            root.path().join("../secret.png"),
            root.path().to_path_buf(),
        ] {
            assert!(root.open_inside(&bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlink_out_of_the_root_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).expect("outside");
        let root = OutputRoot::new(tmp.path().join("root")).expect("root");
        std::os::unix::fs::symlink(&outside, root.path().join("escape")).expect("symlink");

        let err = root
            .resolve_dir(Some("escape/deeper"))
            .expect_err("escapes");
        assert!(matches!(err, OutputError::DirEscapesRoot { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!outside.join("deeper").exists(), "nothing created outside");
        assert!(!root.contains(Path::new("escape")));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_within_the_root_is_followed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        let real = root.resolve_dir(Some("real")).expect("real");
        std::os::unix::fs::symlink(&real, root.path().join("alias")).expect("symlink");
        assert_eq!(
            root.resolve_dir(Some("alias/x")).expect("inside"),
            real.join("x")
        );
    }

    #[test]
    fn a_file_in_the_way_is_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path()).expect("root");
        fs::write(root.path().join("taken"), b"x").expect("write");
        let err = root.resolve_dir(Some("taken/x")).expect_err("file");
        assert!(matches!(err, OutputError::NotADirectory { .. }), "{err}");
    }

    #[test]
    fn contains_checks_real_paths() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = OutputRoot::new(tmp.path().join("root")).expect("root");
        let file = root.path().join("a.png");
        fs::write(&file, b"x").expect("write");
        assert!(root.contains(&file));
        assert!(root.contains(Path::new("a.png")));
        assert!(!root.contains(Path::new("../root/../")));
        assert!(!root.contains(tmp.path()));
        assert!(!root.contains(Path::new("missing.png")));
    }
}
