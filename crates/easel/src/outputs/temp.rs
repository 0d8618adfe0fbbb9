//! easel's temporary files: where an image is written before it takes its real name, and
//! the clean-up of those a killed process left behind.
//!
//! A temporary file is hidden and named `.{stem}.{uuid}.{numbering}-{pid}-{start}.part`:
//! the writer's process (see [`crate::process`]) is in the name, so that a later easel on the
//! same machine can tell a file whose writer died (removed at start) from one another live
//! process is writing right now (left alone). Files whose writer it cannot see (another
//! machine or container sharing the output root, or older easel versions, which named them
//! `.{stem}.{uuid}.part`) are removed only once no write could still be going on.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::error::OutputError;
use crate::process::{ProcessId, gone_by_token};

/// The stem's share of the temporary name, which must stay under the 255-byte name limit.
const TEMP_STEM_MAX_BYTES: usize = 64;
/// A temporary file lives for one write and one link; one this old was abandoned, whoever
/// wrote it.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);

/// A hidden, fully written and synced temporary file, deleted when dropped unless forgotten:
/// every early return and panic between writing and publishing cleans up after itself.
pub(super) struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    pub(super) fn write(dir: &Path, stem: &str, bytes: &[u8]) -> Result<Self, OutputError> {
        let me = ProcessId::current();
        let name = format!(
            ".{}.{}.{}-{}-{}.part",
            truncate_at_char(stem, TEMP_STEM_MAX_BYTES),
            uuid::Uuid::new_v4().simple(),
            me.numbering(),
            me.pid,
            me.start
        );
        let path = dir.join(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|cause| OutputError::WriteIo {
                action: "create the temporary file",
                path: path.clone(),
                cause,
            })?;
        let temp = Self { path, keep: false };
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|cause| OutputError::WriteIo {
                action: "write",
                path: temp.path.clone(),
                cause,
            })?;
        Ok(temp)
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the file now that another name links to the same data.
    pub(super) fn remove(self) {
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove temporary file");
        }
        self.forget();
    }

    /// The file was renamed away: nothing to delete.
    pub(super) fn forget(mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

pub(super) fn truncate_at_char(s: &str, max_bytes: usize) -> &str {
    let mut end = s.len().min(max_bytes);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Who wrote a temporary file, read from its name; `None` for any other file.
#[derive(Debug, PartialEq)]
enum Writer {
    /// Written by the process with this numbering, PID and start time.
    Process {
        numbering: String,
        pid: u32,
        start: u64,
    },
    /// Named by an easel that did not record its writer.
    Unknown,
}

fn writer(name: &str) -> Option<Writer> {
    let inner = name.strip_prefix('.')?.strip_suffix(".part")?;
    let is_uuid = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (rest, last) = inner.rsplit_once('.')?;
    if is_uuid(last) {
        return (!rest.is_empty()).then_some(Writer::Unknown);
    }
    let (rest, uuid) = rest.rsplit_once('.')?;
    if rest.is_empty() || !is_uuid(uuid) {
        return None;
    }
    let mut token = last.splitn(3, '-');
    let numbering = token.next()?;
    if numbering.len() != 8 || !numbering.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Writer::Process {
        numbering: numbering.to_string(),
        pid: token.next()?.parse().ok()?,
        start: token.next()?.parse().ok()?,
    })
}

/// Whether the temporary file at `path`, written by `writer`, can no longer be published.
fn abandoned(path: &Path, writer: &Writer) -> bool {
    if let Writer::Process {
        numbering,
        pid,
        start,
    } = writer
        && gone_by_token(numbering, *pid, *start)
    {
        return true;
    }
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= ABANDONED_AFTER)
}

/// Deletes, under `root`, the temporary files of writers that no longer run; returns how
/// many. Only easel's own temporary names are touched, and symbolic links are not followed.
pub(super) fn remove_abandoned(root: &Path) -> usize {
    let mut removed = 0;
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                folders.push(path);
                continue;
            }
            let name = entry.file_name();
            let Some(writer) = name.to_str().and_then(writer) else {
                continue;
            };
            if kind.is_file() && abandoned(&path, &writer) {
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "could not remove an abandoned temporary file")
                    }
                }
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_easels_temporary_names_are_recognised() {
        let uuid = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            writer(&format!(".cat.v2.{uuid}.deadbeef-42-777.part")),
            Some(Writer::Process {
                numbering: "deadbeef".into(),
                pid: 42,
                start: 777
            })
        );
        assert_eq!(writer(&format!(".cat.{uuid}.part")), Some(Writer::Unknown));
        for other in [
            "cat.png".to_string(),
            ".cat.part".to_string(),
            format!("cat.{uuid}.part"),
            format!(".{uuid}.part"),
            format!(".cat.{uuid}.deadbeef-x-1.part"),
            format!(".cat.{uuid}.deadbeef-1-2.partial"),
        ] {
            assert_eq!(writer(&other), None, "{other}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abandoned_files_go_and_everything_else_stays() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        fs::create_dir_all(root.join("cats/2026")).expect("dirs");
        let me = ProcessId::current();
        let uuid = "0123456789abcdef0123456789abcdef";
        // A child that ran and ended: its file is abandoned.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        let start = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| {
                let rest = &t[t.rfind(')')? + 1..];
                rest.split_whitespace().nth(19)?.parse::<u64>().ok()
            })
            .expect("start");
        child.wait().expect("reaped");
        let dead = format!(".cat.{uuid}.{}-{pid}-{start}.part", me.numbering());
        let live = format!(
            ".dog.{uuid}.{}-{}-{}.part",
            me.numbering(),
            me.pid,
            me.start
        );
        let elsewhere = format!(".eel.{uuid}.00000000-{pid}-{start}.part");
        let old_format = format!(".fox.{uuid}.part");
        for name in [
            &dead,
            &live,
            &elsewhere,
            &old_format,
            &"cat.png".to_string(),
        ] {
            fs::write(root.join("cats/2026").join(name), b"x").expect("write");
        }
        assert_eq!(remove_abandoned(root), 1);
        let mut left: Vec<String> = fs::read_dir(root.join("cats/2026"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![live, elsewhere, old_format, "cat.png".to_string()];
        expected.sort();
        assert_eq!(left, expected);
    }
}
