//! Thumbnails kept on disk for pages that show many images (the gallery): made once per
//! image, on its first request, and read from disk afterwards. Saved images never change,
//! so a thumbnail never goes stale; its name is the image's key (job id and index).
//!
//! Made with the preview code (bounded decode, integer box shrink, JPEG), written to a
//! hidden temporary file and renamed into place, so a reader never sees half a thumbnail;
//! requests for one image that arrive together make it once (a lock per key).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::convert::encode_jpeg;
use super::kind::inspect;
use super::preview::{THUMBNAIL_MAX_SIDE, shrunk};
use super::shrink::reduction_factor;
use super::temp::TempFile;

/// JPEG quality of a gallery thumbnail: the inline previews' first choice.
const QUALITY: u8 = 80;
/// Longest key: a job id (32 hex digits) and an index, with room to spare.
const MAX_KEY_CHARS: usize = 80;

/// Why there is no thumbnail.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error("thumbnail key {0:?} is not letters, digits and '-'")]
    BadKey(String),
    /// The source image could not be read or decoded: the reason, in words.
    #[error("no thumbnail: {0}")]
    Source(String),
    #[error("the thumbnail folder {path}: {cause}")]
    Io { path: PathBuf, cause: io::Error },
}

/// The folder of thumbnails, and who is making which right now.
pub struct Thumbnails {
    dir: PathBuf,
    making: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    made: AtomicU64,
    /// Thumbnails being made at once: each holds its source (up to the served-file limit)
    /// and a decode (up to the decode limit) in memory, and a page of 40 new cards asks for
    /// 40 at once; more than the cores would only add memory, not speed.
    decoding: Slots,
}

/// A counting gate for blocking threads.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot; `None` only if a holder panicked with the lock.
    fn enter(&self) -> Option<Slot<'_>> {
        let mut free = self.free.lock().ok()?;
        while *free == 0 {
            free = self.freed.wait(free).ok()?;
        }
        *free -= 1;
        Some(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.freed.notify_one();
    }
}

/// Thumbnails made at once by default: one per core, at most four.
fn default_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

impl Thumbnails {
    /// Thumbnails in `dir` (created when the first is written).
    pub fn new(dir: impl Into<PathBuf>) -> Thumbnails {
        Thumbnails::with_slots(dir, default_slots())
    }

    /// Thumbnails in `dir`, at most `slots` made at once.
    pub fn with_slots(dir: impl Into<PathBuf>, slots: usize) -> Thumbnails {
        Thumbnails {
            dir: dir.into(),
            making: Mutex::new(HashMap::new()),
            made: AtomicU64::new(0),
            decoding: Slots::new(slots),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many thumbnails this value encoded (not read from disk) since it was made.
    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Where the thumbnail of `key` is (or will be): two-character folders keep any one
    /// folder small with tens of thousands of images.
    fn path_of(&self, key: &str) -> PathBuf {
        let shard: String = key.chars().take(2).collect();
        self.dir.join(shard).join(format!("{key}.jpg"))
    }

    /// Removes the thumbnails of jobs `keep` says are gone (pruned from the store): cached
    /// thumbnails are served without a store read, so they must not outlive their job.
    /// Returns how many were removed; files that are not thumbnails are left alone.
    pub fn sweep(&self, keep: impl Fn(&str) -> bool) -> usize {
        let Ok(shards) = fs::read_dir(&self.dir) else {
            return 0; // no thumbnail was ever made
        };
        let mut removed = 0;
        for shard in shards.flatten() {
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let Some(key) = path
                    .extension()
                    .filter(|e| *e == "jpg")
                    .and_then(|_| path.file_stem())
                    .and_then(|s| s.to_str())
                    .filter(|k| valid_key(k))
                else {
                    continue;
                };
                let Some((job_id, _index)) = key.rsplit_once('-') else {
                    continue;
                };
                if !keep(job_id) && fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// The thumbnail of `key` if it was made before (no source needed: it was checked when
    /// it was made, and saved images never change).
    pub fn cached(&self, key: &str) -> Option<Vec<u8>> {
        valid_key(key)
            .then(|| fs::read(self.path_of(key)).ok())
            .flatten()
    }

    /// The thumbnail of `key` as JPEG bytes: read from disk, or made from the bytes `source`
    /// returns (called only when it must be made) and kept. Blocking: file and CPU work.
    pub fn get(
        &self,
        key: &str,
        source: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>, ThumbError> {
        if !valid_key(key) {
            return Err(ThumbError::BadKey(key.to_string()));
        }
        let path = self.path_of(key);
        if let Ok(bytes) = fs::read(&path) {
            return Ok(bytes);
        }
        // One maker per key: the others wait here, then find the file.
        let turn = {
            let mut making = self
                .making
                .lock()
                .map_err(|_| ThumbError::Source("an earlier thumbnail panicked".into()))?;
            making.entry(key.to_string()).or_default().clone()
        };
        let made = {
            let _held = turn
                .lock()
                .map_err(|_| ThumbError::Source("an earlier thumbnail panicked".into()))?;
            match fs::read(&path) {
                Ok(bytes) => Ok(bytes),
                Err(_) => self.make(&path, source),
            }
        };
        if let Ok(mut making) = self.making.lock() {
            // The last one out removes the key's lock (the map holds one reference).
            if Arc::strong_count(&turn) <= 2 {
                making.remove(key);
            }
        }
        made
    }

    fn make(
        &self,
        path: &Path,
        source: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>, ThumbError> {
        let slot = self
            .decoding
            .enter()
            .ok_or_else(|| ThumbError::Source("an earlier thumbnail panicked".into()))?;
        let bytes = source().map_err(ThumbError::Source)?;
        let jpeg = thumbnail_jpeg(&bytes).map_err(ThumbError::Source)?;
        drop((slot, bytes));
        let io = |path: &Path, cause| ThumbError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let dir = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("thumbnail");
        let temp = TempFile::write(dir, stem, &jpeg).map_err(|e| ThumbError::Io {
            path: dir.to_path_buf(),
            cause: io::Error::other(e.to_string()),
        })?;
        // Rename replaces atomically: a reader sees no file or the whole one.
        fs::rename(temp.path(), path).map_err(|e| io(path, e))?;
        temp.forget();
        self.made.fetch_add(1, Ordering::Relaxed);
        Ok(jpeg)
    }
}

/// Letters, digits and `-`: a key is a file name and nothing else.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A JPEG of `bytes` at most [`THUMBNAIL_MAX_SIDE`] pixels on its longest side, decoded
/// within the preview limits (an animation shows its first frame).
pub fn thumbnail_jpeg(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let info = inspect(bytes, None).map_err(|e| e.to_string())?;
    let factor = reduction_factor(info.width, info.height, THUMBNAIL_MAX_SIDE);
    let small = std::panic::catch_unwind(|| shrunk(bytes, info.kind, factor))
        .unwrap_or_else(|_| Err("the image decoder failed unexpectedly".into()))?;
    encode_jpeg(&small, QUALITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::ImageKind;

    fn png(width: u32, height: u32) -> Vec<u8> {
        use crate::outputs::test_images::{encode, noise};
        encode(&noise(width, height, 7), ImageKind::Png)
    }

    #[test]
    fn made_once_then_read_from_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let thumbs = Thumbnails::new(dir.path().join("thumbnails"));
        let first = thumbs.get("abc-0", || Ok(png(1024, 768))).expect("made");
        assert_eq!(thumbs.made(), 1);
        let again = thumbs
            .get("abc-0", || Err("must not be read again".into()))
            .expect("cached");
        assert_eq!(first, again);
        assert_eq!(thumbs.made(), 1);
        let info = inspect(&first, None).expect("a jpeg");
        assert_eq!(
            (info.kind, info.width, info.height),
            (ImageKind::Jpeg, 512, 384)
        );
    }

    #[test]
    fn requests_together_make_it_once() {
        let dir = tempfile::tempdir().expect("dir");
        let thumbs = Arc::new(Thumbnails::new(dir.path()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let thumbs = thumbs.clone();
                std::thread::spawn(move || thumbs.get("k-1", || Ok(png(800, 600))).expect("thumb"))
            })
            .collect();
        let all: Vec<Vec<u8>> = threads
            .into_iter()
            .map(|t| t.join().expect("join"))
            .collect();
        assert!(all.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(thumbs.made(), 1);
    }

    #[test]
    fn only_so_many_are_made_at_once() {
        use std::sync::atomic::AtomicUsize;
        let dir = tempfile::tempdir().expect("dir");
        let thumbs = Arc::new(Thumbnails::with_slots(dir.path(), 2));
        let (active, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // Each source waits (a bounded while) for all eight to be inside at once: without a
        // bound they are, and the most seen is 8; with it, never more than 2.
        let all_in = Arc::new((Mutex::new(0usize), Condvar::new()));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (thumbs, active, most, all_in) =
                    (thumbs.clone(), active.clone(), most.clone(), all_in.clone());
                std::thread::spawn(move || {
                    thumbs
                        .get(&format!("k-{i}"), || {
                            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            let (inside, cv) = &*all_in;
                            let mut n = inside.lock().expect("lock");
                            *n += 1;
                            cv.notify_all();
                            let _ = cv
                                .wait_timeout_while(n, std::time::Duration::from_millis(300), |n| {
                                    *n < 8
                                })
                                .expect("wait");
                            active.fetch_sub(1, Ordering::SeqCst);
                            Ok(png(16, 16))
                        })
                        .expect("thumb")
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        assert_eq!(thumbs.made(), 8);
        assert!(most.load(Ordering::SeqCst) <= 2, "{most:?} at once");
    }

    #[test]
    fn bad_keys_and_sources_make_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let thumbs = Thumbnails::new(dir.path());
        for key in ["", "../x", "a/b", "a\\b", "a.b"] {
            assert!(matches!(
                thumbs.get(key, || Ok(png(8, 8))),
                Err(ThumbError::BadKey(_))
            ));
        }
        let e = thumbs
            .get("x-0", || Ok(b"not an image".to_vec()))
            .expect_err("refused");
        assert!(e.to_string().starts_with("no thumbnail"), "{e}");
        assert_eq!(thumbs.made(), 0);
    }

    #[test]
    fn a_sweep_removes_only_the_thumbnails_of_gone_jobs() {
        let dir = tempfile::tempdir().expect("dir");
        let thumbs = Thumbnails::new(dir.path().join("thumbnails"));
        for key in ["kept-0", "kept-1", "gone-0"] {
            thumbs.get(key, || Ok(png(64, 64))).expect("made");
        }
        let stranger = thumbs.path_of("gone-0").with_file_name("notes.txt");
        fs::write(&stranger, "not a thumbnail").expect("write");

        assert_eq!(thumbs.sweep(|id| id == "kept"), 1);
        assert!(thumbs.cached("kept-0").is_some() && thumbs.cached("kept-1").is_some());
        assert!(thumbs.cached("gone-0").is_none());
        assert!(
            stranger.exists(),
            "a file that is not a thumbnail was removed"
        );
        assert_eq!(thumbs.sweep(|_| true), 0);
    }
}
