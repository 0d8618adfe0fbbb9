//! An image a caller names, the one rule for every tool that takes one (`edit_image`'s
//! images and mask, `publish_note`'s images, a batch's prompt file, a workflow's image
//! parameters through [`InputRoots`]).
//!
//! A name is one of:
//! - an http(s) URL, passed on as it is (the backend or publisher downloads it);
//! - `easel://jobs/{job_id}/images/{index}`, one saved image of a job;
//! - a bare job id, all of that job's saved images in order;
//! - a path relative to the output root, or an absolute path inside the output root or an
//!   `input_dirs` folder.
//!
//! Local files are placed before anything is opened and described, never quoted, when they
//! are not images (see [`crate::outputs::InputRoots`]). Blocking: files are read to check
//! they are images, so async callers run this on the blocking pool.

use std::path::PathBuf;

use crate::jobs::{Job, Jobs};
use crate::outputs::InputRoots;
use crate::request::Source;

/// What every refusal suggests instead.
pub const FIX: &str = "Name an image by a path relative to the output root (e.g. \"cats/cat.png\"), an absolute path inside the output root or a configured input_dirs folder, a job_id (all its images), an easel://jobs/{job_id}/images/{index} resource, or an http(s) URL.";

/// The sources `text` names (one, or a job's images), or why it names none: a reason to
/// follow the caller's label, e.g. `is outside the output root …`.
pub fn resolve(jobs: &Jobs, roots: &InputRoots, text: &str) -> Result<Vec<Source>, String> {
    let label = text.trim();
    let lower = label.to_ascii_lowercase();
    if label.is_empty() {
        return Err("is empty".into());
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(vec![Source {
            label: label.to_string(),
            path: None,
            url: Some(label.to_string()),
        }]);
    }
    if let Some(rest) = label.strip_prefix("easel://jobs/") {
        let (id, index) = rest
            .split_once("/images/")
            .and_then(|(id, n)| Some((id, n.parse::<u32>().ok()?)))
            .ok_or("is not an easel://jobs/{job_id}/images/{index} URI")?;
        let job = find_job(jobs, id)?.ok_or("names no known job")?;
        return job_images(roots, &job, label, Some(index));
    }
    // A job id wins over a file of the same name at the root: ids are UUIDs, and files
    // there always carry an image extension.
    if looks_like_job_id(label)
        && let Some(job) = find_job(jobs, label)?
    {
        return job_images(roots, &job, label, None);
    }
    let (path, _, _) = roots.read_image(label)?;
    Ok(vec![Source {
        label: label.to_string(),
        path: Some(path),
        url: None,
    }])
}

fn find_job(jobs: &Jobs, id: &str) -> Result<Option<Job>, String> {
    jobs.get(id)
        .map_err(|e| format!("cannot be looked up: the job store cannot be read ({e})"))
}

/// The saved images of `job` (only image `only`, if given), each checked again: a file may
/// have been moved or replaced since it was saved.
fn job_images(
    roots: &InputRoots,
    job: &Job,
    label: &str,
    only: Option<u32>,
) -> Result<Vec<Source>, String> {
    let mut images: Vec<_> = job
        .images
        .iter()
        .filter(|img| only.is_none_or(|n| img.index == n))
        .collect();
    images.sort_by_key(|img| img.index);
    if images.is_empty() {
        return Err(match only {
            Some(n) => format!("names no saved image {n} of job {}", job.id),
            None => format!(
                "is job {} ({}), which has no saved images",
                job.id,
                job.status.as_str()
            ),
        });
    }
    images
        .into_iter()
        .map(|img| {
            let path = img.path.display().to_string();
            let (path, _, _) = roots
                .read_image(&path)
                .map_err(|why| format!("(its file {path}) {why}"))?;
            Ok(Source {
                label: label.to_string(),
                path: Some(path),
                url: img
                    .url
                    .clone()
                    .filter(|u| u.starts_with("http://") || u.starts_with("https://")),
            })
        })
        .collect()
}

fn looks_like_job_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A prompt file a caller names: placed like an image, read with `limit`, not inspected.
pub fn read_text_file(
    roots: &InputRoots,
    text: &str,
    limit: u64,
) -> Result<(PathBuf, String), String> {
    let path = roots.locate(text)?;
    let bytes = roots.read(&path, limit)?;
    let text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())?;
    Ok((path, text))
}
