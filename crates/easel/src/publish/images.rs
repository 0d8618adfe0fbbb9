//! Turning the images a caller names into what a publisher sends: absolute local paths
//! (xiaohongshu-mcp reads them on its own machine) or http(s) URLs passed through. A name
//! can be a path relative to the output root (or absolute inside it or an input folder), a
//! job id (all of that job's images, in order), or `easel://jobs/{id}/images/{i}`. Every
//! local file must exist and really be an image: xiaohongshu-mcp skips missing files
//! silently and would post a note without them.

use std::path::{Path, PathBuf};

use crate::jobs::{Job, Jobs};
use crate::outputs::{OutputError, inspect, validate_relative_dir};
use crate::request::InvalidInput;

const FIX: &str = "Name images by a path relative to the output root (e.g. \"cats/cat.png\") or an absolute path inside it, a job_id (all its images), an easel://jobs/{job_id}/images/{index} URI, or an http(s) URL.";

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

/// Why a local file cannot be sent, in words about a file the caller named (the outputs
/// module's messages speak of downloads).
fn not_an_image(e: &OutputError) -> String {
    match e {
        OutputError::EmptyImage => "is not an image: the file is empty".into(),
        OutputError::NotAnImage { looks_like } => {
            format!("is not an image: it looks like {looks_like}")
        }
        OutputError::UnsupportedImage { looks_like } => format!(
            "is {looks_like}, which Xiaohongshu notes do not take; use PNG, JPEG, WebP or GIF"
        ),
        OutputError::Corrupt { kind, detail } => {
            format!("starts like a {kind} image but is damaged ({detail})")
        }
        other => format!("is not a usable image ({other})"),
    }
}

/// Checks that `path` is a readable image file; returns its canonical path.
fn image_file(path: &Path) -> Result<PathBuf, String> {
    let real = path.canonicalize().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("does not exist (looked for {})", path.display())
        } else {
            format!("cannot be opened ({e})")
        }
    })?;
    if !real.is_file() {
        return Err("is not a file".into());
    }
    let bytes = std::fs::read(&real).map_err(|e| format!("cannot be read ({e})"))?;
    inspect(&bytes, None).map_err(|e| not_an_image(&e))?;
    Ok(real)
}

fn job_images(
    jobs: &Jobs,
    job: &Job,
    i: usize,
    label: &str,
    only: Option<u32>,
) -> Result<Vec<PathBuf>, InvalidInput> {
    let mut images: Vec<_> = job
        .images
        .iter()
        .filter(|img| only.is_none_or(|n| img.index == n))
        .collect();
    images.sort_by_key(|img| img.index);
    if images.is_empty() {
        return Err(bad(
            i,
            label,
            match only {
                Some(n) => format!("names no saved image {n} of job {}", job.id),
                None => format!(
                    "is job {} ({}), which has no saved images",
                    job.id,
                    job.status.as_str()
                ),
            },
        ));
    }
    images
        .into_iter()
        .map(|img| {
            if !jobs.outputs().contains(&img.path) {
                return Err(bad(i, label, "is no longer inside the output root"));
            }
            image_file(&img.path)
                .map_err(|why| bad(i, label, format!("(file {}) {why}", img.path.display())))
        })
        .collect()
}

fn local(
    jobs: &Jobs,
    input_dirs: &[PathBuf],
    i: usize,
    label: &str,
) -> Result<PathBuf, InvalidInput> {
    let given = Path::new(label);
    if given.is_absolute() {
        let real = image_file(given).map_err(|why| bad(i, label, why))?;
        let inside = jobs.outputs().contains(&real)
            || input_dirs
                .iter()
                .any(|d| d.canonicalize().is_ok_and(|d| real.starts_with(d)));
        if !inside {
            return Err(bad(
                i,
                label,
                "is outside the output root and every input_dirs folder",
            ));
        }
        return Ok(real);
    }
    validate_relative_dir(label).map_err(|e| bad(i, label, e.to_string()))?;
    let real = image_file(&jobs.outputs().path().join(label)).map_err(|why| bad(i, label, why))?;
    if !jobs.outputs().contains(&real) {
        return Err(bad(i, label, "leaves the output root"));
    }
    Ok(real)
}

fn looks_like_job_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Resolves every name; blocking (reads files). Returns the images and every problem.
pub fn resolve(
    jobs: &Jobs,
    input_dirs: &[PathBuf],
    names: &[String],
) -> (Vec<NoteImage>, Vec<InvalidInput>) {
    let mut images = Vec::new();
    let mut problems = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let label = name.trim();
        let lower = label.to_ascii_lowercase();
        let one = |path: PathBuf| NoteImage {
            label: label.to_string(),
            path: Some(path),
            url: None,
        };
        if label.is_empty() {
            problems.push(bad(i, label, "is empty"));
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            images.push(NoteImage {
                label: label.to_string(),
                path: None,
                url: Some(label.to_string()),
            });
        } else if let Some(rest) = label.strip_prefix("easel://jobs/") {
            let parsed = rest
                .split_once("/images/")
                .and_then(|(id, n)| Some((id, n.parse::<u32>().ok()?)));
            let Some((id, n)) = parsed else {
                problems.push(bad(
                    i,
                    label,
                    "is not an easel://jobs/{job_id}/images/{index} URI",
                ));
                continue;
            };
            match jobs.get(id) {
                Ok(Some(job)) => match job_images(jobs, &job, i, label, Some(n)) {
                    Ok(paths) => images.extend(paths.into_iter().map(one)),
                    Err(e) => problems.push(e),
                },
                Ok(None) => problems.push(bad(i, label, "names no known job")),
                Err(e) => problems.push(bad(i, label, format!("cannot be looked up ({e})"))),
            }
        } else {
            // A job id wins over a file of the same name at the root: ids are UUIDs, and
            // files there always carry an image extension.
            let job = if looks_like_job_id(label) {
                jobs.get(label).ok().flatten()
            } else {
                None
            };
            let found = match job {
                Some(job) => job_images(jobs, &job, i, label, None),
                None => local(jobs, input_dirs, i, label).map(|p| vec![p]),
            };
            match found {
                Ok(paths) => images.extend(paths.into_iter().map(one)),
                Err(e) => problems.push(e),
            }
        }
    }
    (images, problems)
}
