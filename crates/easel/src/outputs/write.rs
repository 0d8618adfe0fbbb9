//! Publishing bytes as a new file: complete or absent, and never over an existing file.
//!
//! The bytes go to a hidden temporary file first and are fsynced, so a crash or a full disk
//! leaves no partial image under a real name. The temporary file is then hard-linked to the
//! final name: `link` fails atomically when the name exists, which makes "take the first free
//! name" race-free even between processes (a check-then-rename would overwrite a file created
//! in between). Filesystems without hard links get an equally safe fallback.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::error::OutputError;
use super::temp::TempFile;

/// How many names (`stem`, `stem-2`, … `stem-10000`) to try before giving up.
const MAX_NAME_ATTEMPTS: u32 = 10_000;

/// Called with a free name just before the file takes it, so the caller can record the name
/// first (a crash right after publishing then finds the file by its record); an error stops
/// the write and leaves nothing under that name.
pub(crate) type Claim<'a> = &'a mut dyn FnMut(&Path) -> Result<(), String>;

/// Writes `bytes` as a new file `stem.ext` in `dir`, or `stem-N.ext` with the smallest free N.
/// Returns the path written.
pub(crate) fn write_new_file(
    dir: &Path,
    stem: &str,
    extension: &'static str,
    bytes: &[u8],
    claim: Claim<'_>,
) -> Result<PathBuf, OutputError> {
    write_new_file_linking_with(
        |from, to| fs::hard_link(from, to),
        dir,
        stem,
        extension,
        bytes,
        claim,
    )
}

/// [`write_new_file`] with the hard-link call passed in, so tests can take the fallback path.
fn write_new_file_linking_with(
    hard_link: fn(&Path, &Path) -> io::Result<()>,
    dir: &Path,
    stem: &str,
    extension: &'static str,
    bytes: &[u8],
    claim: Claim<'_>,
) -> Result<PathBuf, OutputError> {
    let temp = TempFile::write(dir, stem, bytes)?;
    let mut hard_links_work = true;
    for n in 1..=MAX_NAME_ATTEMPTS {
        let target = dir.join(numbered_name(stem, n, extension));
        // A name already taken needs no record; one taken between this look and the link
        // below is skipped there.
        if fs::symlink_metadata(&target).is_ok() {
            continue;
        }
        claim(&target).map_err(|reason| OutputError::Unrecorded {
            path: target.clone(),
            reason,
        })?;
        if hard_links_work {
            match hard_link(temp.path(), &target) {
                Ok(()) => {
                    temp.remove();
                    sync_dir(dir);
                    return Ok(target);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "hard link failed; claiming names with create_new instead");
                    hard_links_work = false;
                }
            }
        }
        // Fallback: claim the name with an exclusive create, then rename the complete
        // temporary file over that empty placeholder, which is ours alone. Readers see an
        // empty file at worst, never a partial image.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
        {
            Ok(placeholder) => {
                drop(placeholder);
                if let Err(cause) = fs::rename(temp.path(), &target) {
                    let _ = fs::remove_file(&target);
                    return Err(OutputError::WriteIo {
                        action: "move the finished file to",
                        path: target,
                        cause,
                    });
                }
                temp.forget();
                sync_dir(dir);
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(cause) => {
                return Err(OutputError::WriteIo {
                    action: "create",
                    path: target,
                    cause,
                });
            }
        }
    }
    Err(OutputError::NamesExhausted {
        stem: stem.to_owned(),
        extension,
        dir: dir.to_owned(),
        tries: MAX_NAME_ATTEMPTS,
    })
}

fn numbered_name(stem: &str, n: u32, extension: &str) -> String {
    if n == 1 {
        format!("{stem}.{extension}")
    } else {
        format!("{stem}-{n}.{extension}")
    }
}

/// Makes the new directory entry durable; best effort, since the data itself is already
/// synced and not every platform can open a directory.
fn sync_dir(dir: &Path) {
    if cfg!(unix)
        && let Err(e) = File::open(dir).and_then(|d| d.sync_all())
    {
        tracing::debug!(dir = %dir.display(), error = %e, "could not sync directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn existing_names_are_skipped_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("cat.png"), b"first").expect("seed");
        fs::write(dir.path().join("cat-2.png"), b"second").expect("seed");
        let path =
            write_new_file(dir.path(), "cat", "png", b"third", &mut |_| Ok(())).expect("write");
        assert_eq!(path, dir.path().join("cat-3.png"));
        assert_eq!(
            fs::read(dir.path().join("cat.png")).expect("read"),
            b"first"
        );
        assert_eq!(fs::read(&path).expect("read"), b"third");
        assert_eq!(listing(dir.path()), ["cat-2.png", "cat-3.png", "cat.png"]);
    }

    #[test]
    fn without_hard_links_names_are_claimed_exclusively() {
        fn unsupported(_: &Path, _: &Path) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("cat.png"), b"first").expect("seed");
        let path = write_new_file_linking_with(
            unsupported,
            dir.path(),
            "cat",
            "png",
            b"second",
            &mut |_| Ok(()),
        )
        .expect("write");
        assert_eq!(path, dir.path().join("cat-2.png"));
        assert_eq!(
            fs::read(dir.path().join("cat.png")).expect("read"),
            b"first"
        );
        assert_eq!(fs::read(&path).expect("read"), b"second");
        assert_eq!(listing(dir.path()), ["cat-2.png", "cat.png"]);
    }

    #[test]
    fn temporary_name_is_short_for_long_stems() {
        let stem = "猫".repeat(60);
        assert_eq!(
            super::super::temp::truncate_at_char(&stem, 64).len(),
            63,
            "a whole character under the temporary name's share"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        write_new_file(dir.path(), &stem, "png", b"x", &mut |_| Ok(())).expect("write");
        assert_eq!(listing(dir.path()), [format!("{stem}.png")]);
    }

    #[test]
    fn the_name_is_claimed_before_it_is_taken_and_a_refusal_leaves_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join("cat.png"), b"first").expect("seed");
        let mut claimed = Vec::new();
        let path = write_new_file(dir.path(), "cat", "png", b"second", &mut |p| {
            // The record comes first: nothing is under the name yet.
            assert!(!p.exists());
            claimed.push(p.to_path_buf());
            Ok(())
        })
        .expect("write");
        assert_eq!(claimed, std::slice::from_ref(&path));
        let err = write_new_file(dir.path(), "cat", "png", b"third", &mut |_| {
            Err("the store is gone".into())
        })
        .expect_err("refused");
        assert!(err.to_string().contains("the store is gone"), "{err}");
        assert_eq!(listing(dir.path()), ["cat-2.png", "cat.png"]);
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        let err =
            write_new_file(&missing, "cat", "png", b"x", &mut |_| Ok(())).expect_err("no dir");
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(listing(dir.path()).is_empty());
    }
}
