//! Turning the images a caller names into what a publisher sends: absolute local paths
//! (xiaohongshu-mcp reads them on its own machine) or http(s) URLs passed through. A name
//! can be a path relative to the output root (or absolute inside it or an input folder), a
//! job id (all of that job's images, in order), or `easel://jobs/{id}/images/{i}`. Every
//! local file must exist and really be an image: xiaohongshu-mcp skips missing files
//! silently and would post a note without them.

use std::path::PathBuf;

use crate::jobs::Jobs;
use crate::outputs::InputRoots;
use crate::request::InvalidInput;
use crate::sources::{self, FIX};

/// One image of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteImage {
    /// What the caller wrote.
    pub label: String,
    /// Canonical absolute path of a local file.
    pub path: Option<PathBuf>,
    /// An http(s) URL, passed through unchecked (the service downloads and checks it).
    pub url: Option<String>,
}

impl NoteImage {
    /// What goes over the wire: the absolute path, or the URL.
    pub fn sent(&self) -> String {
        match (&self.path, &self.url) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(u)) => u.clone(),
            (None, None) => self.label.clone(),
        }
    }
}

fn bad(i: usize, label: &str, reason: impl Into<String>) -> InvalidInput {
    InvalidInput::new(
        "images",
        format!("images[{i}] {label:?} {}", reason.into()),
        FIX,
    )
}

/// Resolves every name (see [`crate::sources`]); blocking (reads files). Returns the images
/// and every problem.
pub fn resolve(
    jobs: &Jobs,
    roots: &InputRoots,
    names: &[String],
) -> (Vec<NoteImage>, Vec<InvalidInput>) {
    let mut images = Vec::new();
    let mut problems = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match sources::resolve(jobs, roots, name) {
            Ok(found) => images.extend(found.into_iter().map(|s| NoteImage {
                label: s.label,
                // xiaohongshu-mcp reads local files itself; a URL only for remote images.
                url: if s.path.is_some() { None } else { s.url },
                path: s.path,
            })),
            Err(why) => problems.push(bad(i, name.trim(), why)),
        }
    }
    (images, problems)
}
