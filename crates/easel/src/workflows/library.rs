//! The workflows on offer: the built-ins plus the user's folder of API-format JSON files,
//! re-read whenever a file's modification time or size changes, so an edited workflow is
//! picked up on the next call without a restart (a stale cache was a reported bug
//! elsewhere).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::builtin;
use super::workflow::{Workflow, WorkflowError, WorkflowSource};

/// A file in the workflows folder that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

/// Workflow files larger than this are refused unread: an API-format graph is a few
/// kilobytes, and a huge file in the folder is more likely a mistake than a workflow.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

pub struct Library {
    builtins: Vec<Arc<Workflow>>,
    dir: Option<PathBuf>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// By path, so that two files differing only in case are both seen.
    files: BTreeMap<PathBuf, Entry>,
    /// Why the folder itself could not be listed (a missing folder is not a problem).
    dir_problem: Option<Problem>,
}

struct Entry {
    name: String,
    stamp: Stamp,
    loaded: Result<Arc<Workflow>, WorkflowError>,
}

/// What decides whether a file must be read again: its own and its sidecar's
/// modification time and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    json: FileStamp,
    sidecar: Option<FileStamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let m = fs::metadata(path).ok()?;
        m.is_file().then(|| FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
        })
    }
}

impl Library {
    /// The built-ins, plus the `*.json` files in `dir` (which need not exist yet).
    pub fn new(dir: Option<PathBuf>) -> Library {
        Library {
            builtins: builtin::all(),
            dir,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Every usable workflow, sorted by name. A user file overrides the built-in of the
    /// same name; a broken one hides it too (and shows in [`Library::problems`]), so
    /// that what runs is never silently something else than the user's file.
    pub fn list(&self) -> Vec<Arc<Workflow>> {
        let cache = self.refresh();
        let mut by_name: BTreeMap<String, Option<Arc<Workflow>>> = self
            .builtins
            .iter()
            .map(|w| (w.name.clone(), Some(w.clone())))
            .collect();
        for (name, loaded) in resolve(&cache) {
            by_name.insert(name, loaded.ok());
        }
        by_name.into_values().flatten().collect()
    }

    /// The workflow called `name`, freshly checked against its file.
    pub fn get(&self, name: &str) -> Result<Arc<Workflow>, WorkflowError> {
        let cache = self.refresh();
        if let Some((_, loaded)) = resolve(&cache).into_iter().find(|(n, _)| n == name) {
            return loaded;
        }
        if let Some(w) = self.builtins.iter().find(|w| w.name == name) {
            return Ok(w.clone());
        }
        drop(cache);
        Err(WorkflowError::Unknown {
            name: name.to_string(),
            known: self.list().iter().map(|w| w.name.clone()).collect(),
        })
    }

    /// Files that could not be loaded, with the reason, sorted by path.
    pub fn problems(&self) -> Vec<Problem> {
        let cache = self.refresh();
        let mut out: Vec<Problem> = cache.dir_problem.iter().cloned().collect();
        let mut names = BTreeSet::new();
        for (path, entry) in &cache.files {
            let failure = match &entry.loaded {
                Err(e) => Some(e.to_string()),
                Ok(_) if !names.insert(entry.name.clone()) => {
                    Some(duplicate(&entry.name).to_string())
                }
                Ok(_) => None,
            };
            if let Some(message) = failure {
                out.push(Problem {
                    path: path.clone(),
                    message,
                });
            }
        }
        out
    }

    /// Brings the cache in line with the folder: new files are read, changed ones re-read,
    /// deleted ones dropped.
    fn refresh(&self) -> MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves the cache consistent (entries are
        // replaced whole), so a poisoned lock is still usable.
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(dir) = &self.dir else {
            return cache;
        };
        let listing = match fs::read_dir(dir) {
            Ok(l) => l,
            Err(e) => {
                cache.files.clear();
                cache.dir_problem = (e.kind() != ErrorKind::NotFound).then(|| Problem {
                    path: dir.clone(),
                    message: format!("the workflows folder cannot be read: {e}"),
                });
                return cache;
            }
        };
        cache.dir_problem = None;
        let mut present = BTreeSet::new();
        for entry in listing.flatten() {
            let path = entry.path();
            let Some(stem) = workflow_stem(&path) else {
                continue;
            };
            let Some(json) = FileStamp::of(&path) else {
                continue;
            };
            let sidecar_path = path.with_file_name(format!("{stem}.meta.json"));
            let stamp = Stamp {
                json,
                sidecar: FileStamp::of(&sidecar_path),
            };
            present.insert(path.clone());
            if cache.files.get(&path).is_some_and(|e| e.stamp == stamp) {
                continue;
            }
            let loaded = load(&stem, &path, stamp, &sidecar_path);
            match &loaded {
                Ok(_) => tracing::debug!(path = %path.display(), "loaded workflow"),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "workflow not loaded"),
            }
            cache.files.insert(
                path,
                Entry {
                    name: stem,
                    stamp,
                    loaded,
                },
            );
        }
        cache.files.retain(|path, _| present.contains(path));
        cache
    }
}

/// The user's workflows by name, in path order; a second file with a name already taken
/// (`a.json` beside `a.JSON`) is an error rather than a silent choice.
fn resolve(cache: &Cache) -> Vec<(String, Result<Arc<Workflow>, WorkflowError>)> {
    let mut out: Vec<(String, Result<Arc<Workflow>, WorkflowError>)> = Vec::new();
    for entry in cache.files.values() {
        if out.iter().any(|(n, _)| n == &entry.name) {
            continue;
        }
        out.push((entry.name.clone(), entry.loaded.clone()));
    }
    out
}

fn duplicate(name: &str) -> WorkflowError {
    WorkflowError::BadName {
        name: name.to_string(),
        reason: "another file in the folder has the same name; keep one of them".into(),
    }
}

/// The workflow name of a file in the folder: `my-flux` for `my-flux.json`. Sidecars
/// (`*.meta.json`), hidden files and other extensions are not workflows.
fn workflow_stem(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let lower = file.to_ascii_lowercase();
    if file.starts_with('.') || !lower.ends_with(".json") || lower.ends_with(".meta.json") {
        return None;
    }
    Some(file[..file.len() - ".json".len()].to_string())
}

fn load(
    name: &str,
    path: &Path,
    stamp: Stamp,
    sidecar_path: &Path,
) -> Result<Arc<Workflow>, WorkflowError> {
    check_name(name)?;
    if stamp.json.len > MAX_FILE_BYTES {
        return Err(WorkflowError::Io {
            name: name.to_string(),
            message: format!(
                "the file is {} bytes; an API-format workflow is a small JSON file, so this is probably not one",
                stamp.json.len
            ),
        });
    }
    let read = |p: &Path| {
        fs::read_to_string(p).map_err(|e| WorkflowError::Io {
            name: name.to_string(),
            message: format!("{}: {e}", p.display()),
        })
    };
    let text = read(path)?;
    let sidecar = match stamp.sidecar {
        Some(_) => Some(read(sidecar_path)?),
        None => None,
    };
    let source = WorkflowSource::File(path.to_path_buf());
    Workflow::from_json(name, &text, sidecar.as_deref(), source).map(Arc::new)
}

/// Workflow names become MCP tool names and command-line arguments, so they keep to
/// characters every client accepts.
fn check_name(name: &str) -> Result<(), WorkflowError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(WorkflowError::BadName {
            name: name.to_string(),
            reason: "names may use letters, digits, '-', '_' and '.', up to 64 characters; rename the file (e.g. my-workflow.json)".into(),
        })
    }
}
