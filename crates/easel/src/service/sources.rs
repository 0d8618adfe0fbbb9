//! Turning what a caller names as a source image into a [`Source`]: a path inside the
//! output root or an input root, an easel resource URI, or an http(s) URL. Nothing outside
//! those roots can be named.

use std::path::{Path, PathBuf};

use crate::jobs::Jobs;
use crate::outputs::{inspect, validate_relative_dir};
use crate::request::{InvalidInput, Source};

const FIX: &str = "Name an image by a path relative to the output root (e.g. \"cats/cat.png\"), an absolute path inside a configured input_dirs folder, an easel://jobs/{job_id}/images/{index} resource, or an http(s) URL.";

fn refuse(field: &'static str, label: &str, reason: impl Into<String>) -> InvalidInput {
    InvalidInput::new(field, format!("{label:?}: {}", reason.into()), FIX)
}

/// A file named by a path relative to the output root, or an absolute path inside the
/// output root or an input root (prompt files of a batch).
pub fn resolve_file(
    jobs: &Jobs,
    input_dirs: &[PathBuf],
    field: &'static str,
    text: &str,
) -> Result<PathBuf, InvalidInput> {
    let label = text.trim();
    let given = Path::new(label);
    let real = if given.is_absolute() {
        local_file(field, label, given)?
    } else {
        validate_relative_dir(label).map_err(|e| refuse(field, label, e.to_string()))?;
        local_file(field, label, &jobs.outputs().path().join(label))?
    };
    let inside = jobs.outputs().contains(&real)
        || input_dirs
            .iter()
            .any(|d| d.canonicalize().is_ok_and(|d| real.starts_with(d)));
    if !inside {
        return Err(refuse(
            field,
            label,
            "is outside the output root and every input_dirs folder",
        ));
    }
    Ok(real)
}

fn local_file(field: &'static str, label: &str, path: &Path) -> Result<PathBuf, InvalidInput> {
    let real = path
        .canonicalize()
        .map_err(|e| refuse(field, label, format!("cannot be opened ({e})")))?;
    if !real.is_file() {
        return Err(refuse(field, label, "is not a file"));
    }
    Ok(real)
}

/// Checks that `path` is a readable image; returns its canonical path.
fn local_image(field: &'static str, label: &str, path: &Path) -> Result<PathBuf, InvalidInput> {
    let real = local_file(field, label, path)?;
    let bytes =
        std::fs::read(&real).map_err(|e| refuse(field, label, format!("cannot be read ({e})")))?;
    inspect(&bytes, None).map_err(|e| refuse(field, label, format!("is not an image: {e}")))?;
    Ok(real)
}

pub fn resolve(
    jobs: &Jobs,
    input_dirs: &[PathBuf],
    field: &'static str,
    text: &str,
) -> Result<Source, InvalidInput> {
    let label = text.trim();
    let lower = label.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Source {
            label: label.to_string(),
            path: None,
            url: Some(label.to_string()),
        });
    }
    if let Some(rest) = label.strip_prefix("easel://jobs/") {
        let (job_id, index) = rest.split_once("/images/").ok_or_else(|| {
            refuse(
                field,
                label,
                "is not an easel://jobs/{job_id}/images/{index} URI",
            )
        })?;
        let index: u32 = index
            .parse()
            .map_err(|_| refuse(field, label, "has no valid image index"))?;
        let job = jobs
            .get(job_id)
            .map_err(|e| refuse(field, label, format!("the job store cannot be read ({e})")))?
            .ok_or_else(|| refuse(field, label, "names no known job"))?;
        let image = job
            .images
            .iter()
            .find(|i| i.index == index)
            .ok_or_else(|| refuse(field, label, "names no saved image of that job"))?;
        if !jobs.outputs().contains(&image.path) {
            return Err(refuse(field, label, "is no longer inside the output root"));
        }
        let path = local_image(field, label, &image.path)?;
        let url = image
            .url
            .clone()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
        return Ok(Source {
            label: label.to_string(),
            path: Some(path),
            url,
        });
    }
    let given = Path::new(label);
    let path = if given.is_absolute() {
        let real = local_image(field, label, given)?;
        let inside = jobs.outputs().contains(&real)
            || input_dirs
                .iter()
                .any(|d| d.canonicalize().is_ok_and(|d| real.starts_with(d)));
        if !inside {
            return Err(refuse(
                field,
                label,
                "is outside the output root and every input_dirs folder",
            ));
        }
        real
    } else {
        validate_relative_dir(label).map_err(|e| refuse(field, label, e.to_string()))?;
        let real = local_image(field, label, &jobs.outputs().path().join(label))?;
        if !jobs.outputs().contains(&real) {
            return Err(refuse(field, label, "leaves the output root"));
        }
        real
    };
    Ok(Source {
        label: label.to_string(),
        path: Some(path),
        url: None,
    })
}
