//! The result of every job tool: a short text for people, `structuredContent` matching the
//! declared output schema, one `resource_link` per file, and bounded inline previews.

use rmcp::model::{CallToolResult, ContentBlock, Resource};
use schemars::JsonSchema;
use serde::Serialize;

use crate::clock::now_ms;
use crate::jobs::{Job, JobProgress, JobStatus};
use crate::outputs::{MediaClass, PreviewMode, plan_media_previews};

/// A saved file, as reported to callers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileReport {
    /// Position in the request (0-based).
    pub index: u32,
    /// Absolute path on the machine running easel.
    pub path: String,
    /// MCP resource URI that serves the same bytes.
    pub uri: String,
    /// Where the backend served the image, if it has a URL (may expire).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The prompt the model actually used, when the service rewrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// Token usage reported by the service for the call that made this image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<serde_json::Value>,
    /// "animation" (animated WebP, PNG or GIF) or "video" (MP4, WebM); absent for a still
    /// image.
    #[serde(skip_serializing_if = "MediaClass::is_still")]
    pub media: MediaClass,
}

impl FileReport {
    /// "image", "animation" or "video", for people.
    fn what(&self) -> &'static str {
        match self.media {
            MediaClass::Still => "image",
            MediaClass::Animation => "animation",
            MediaClass::Video => "video",
        }
    }
}

/// Why a job, or one of its images, failed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorReport {
    /// auth, rate_limited, rejected, failed, timeout, unreachable, protocol, download, save, cancelled.
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The service's own structured error, e.g. ComfyUI's node_errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// Which image (0-based), for per-image failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

impl ErrorReport {
    /// The message with the service's request id, which support desks ask for.
    pub fn describe(&self) -> String {
        match &self.request_id {
            Some(id) => format!("{} (request id {id})", self.message),
            None => self.message.clone(),
        }
    }
}

/// Timestamps in milliseconds since the Unix epoch, and elapsed time.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Timings {
    pub created_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    /// Milliseconds from creation to finish (or to now, while running).
    pub elapsed_ms: u64,
}

/// Structured result of generate_image and get_job.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobReport {
    pub job_id: String,
    /// queued, running, succeeded, failed or cancelled.
    pub status: JobStatus,
    pub backend: String,
    /// The model id, or "workflow NAME" when a ComfyUI workflow decides it.
    pub model: String,
    /// Seed of the first image; each file reports the seed that made it (ModelScope: image
    /// i used seed + i; ComfyUI: the images of one call are one batch from this seed).
    /// Absent when the files were made without a seed (a workflow with no seed input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// WIDTHxHEIGHT of the saved files (sizes that differ are joined by ", "); the
    /// requested size until there are files.
    pub size: String,
    /// Images requested.
    pub count: u32,
    /// The source images an edit came from, as the caller named them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    pub progress: JobProgress,
    pub files: Vec<FileReport>,
    /// Things to know about how the request was applied (e.g. parameters a workflow has no place for).
    pub warnings: Vec<String>,
    /// Images that failed while others succeeded.
    pub failures: Vec<ErrorReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
    pub timings: Timings,
    /// What to do next, when there is something to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    /// Why previews were reduced or left out, when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_note: Option<String>,
    /// Absolute paths of copies made by get_job's copy_to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<String>,
    /// Anything else the caller should know (e.g. an idempotency key matched an earlier job).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Additions to a job's report from the tool that reports it.
#[derive(Debug, Default)]
pub struct Extras {
    pub copies: Vec<String>,
    pub note: Option<String>,
}

/// The MCP resource URI of a job's image.
pub fn image_uri(job_id: &str, index: u32) -> String {
    format!("easel://jobs/{job_id}/images/{index}")
}

fn kb(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

impl JobReport {
    pub fn new(job: &Job) -> JobReport {
        let elapsed_ms = job
            .finished_at_ms
            .unwrap_or_else(now_ms)
            .saturating_sub(job.created_at_ms);
        let files = job
            .images
            .iter()
            .map(|i| FileReport {
                index: i.index,
                path: i.path.display().to_string(),
                uri: image_uri(&job.id, i.index),
                url: i.url.clone(),
                mime: i.mime.clone(),
                width: i.width,
                height: i.height,
                bytes: i.bytes,
                seed: i.seed,
                revised_prompt: i.revised_prompt.clone(),
                usage: i.usage.clone(),
                media: i.media,
            })
            .collect();
        let failures = job
            .failures
            .iter()
            .map(|f| ErrorReport {
                kind: kind_name(&f.error),
                message: f.error.message.clone(),
                request_id: f.error.request_id.clone(),
                details: f.error.details.clone(),
                index: (f.index != u32::MAX).then_some(f.index),
            })
            .collect();
        let error = job.error.as_ref().map(|e| ErrorReport {
            kind: kind_name(e),
            message: e.message.clone(),
            request_id: e.request_id.clone(),
            details: e.details.clone(),
            index: None,
        });
        let next_step = match job.status {
            JobStatus::Queued | JobStatus::Running => Some(format!(
                "The job is still running. Call get_job with job_id \"{}\" to wait for the images.",
                job.id
            )),
            _ => None,
        };
        JobReport {
            job_id: job.id.clone(),
            status: job.status,
            backend: job.backend.clone(),
            model: job.request.describe_model(),
            seed: reported_seed(job),
            size: reported_size(job),
            count: job.request.count,
            sources: job
                .request
                .sources
                .iter()
                .map(|s| s.label.clone())
                .collect(),
            progress: job.progress.clone(),
            warnings: job.warnings.clone(),
            files,
            failures,
            error,
            timings: Timings {
                created_at_ms: job.created_at_ms,
                finished_at_ms: job.finished_at_ms,
                elapsed_ms,
            },
            next_step,
            preview_note: None,
            copies: Vec::new(),
            note: None,
        }
    }

    /// "seed 42, 320x200", or "no seed, …" when the files were made without one.
    fn seed_and_size(&self) -> String {
        match self.seed {
            Some(seed) => format!("seed {seed}, {}", self.size),
            None => format!("no seed, {}", self.size),
        }
    }

    /// The human summary at the head of the result.
    pub fn text(&self) -> String {
        let secs = self.timings.elapsed_ms as f64 / 1000.0;
        let mut out = match self.status {
            JobStatus::Succeeded if !self.sources.is_empty() => format!(
                "Edited {} into {} of {} image(s) with {} on {} in {secs:.1} s:",
                self.sources.join(", "),
                self.files.len(),
                self.count,
                self.model,
                self.backend
            ),
            JobStatus::Succeeded => format!(
                "Generated {} of {} image(s) with {} on {} ({}) in {secs:.1} s:",
                self.files.len(),
                self.count,
                self.model,
                self.backend,
                self.seed_and_size()
            ),
            JobStatus::Queued | JobStatus::Running => format!(
                "Job {} is still {} after {secs:.0} s ({:.0}%: {}).",
                self.job_id,
                self.status.as_str(),
                self.progress.fraction * 100.0,
                self.progress.message
            ),
            JobStatus::Failed => format!(
                "Generation failed after {secs:.1} s: {}",
                self.error
                    .as_ref()
                    .map_or("unknown error".into(), ErrorReport::describe)
            ),
            JobStatus::Cancelled => format!(
                "Job {} was cancelled: {}",
                self.job_id,
                self.error.as_ref().map_or("", |e| e.message.as_str())
            ),
        };
        for f in &self.files {
            // Stills need no label; an animation or a video says what it is.
            let what = if f.media.is_still() {
                String::new()
            } else {
                format!("{} {}, ", f.mime, f.what())
            };
            out.push_str(&format!(
                "\n- {} ({what}{}x{}, {}{})",
                f.path,
                f.width,
                f.height,
                kb(f.bytes),
                f.seed.map_or(String::new(), |s| format!(", seed {s}"))
            ));
            if let Some(url) = &f.url {
                out.push_str(&format!("\n  from {url}"));
            }
        }
        // A failed job's error already is its images' failure; list them only beside successes.
        if self.status == JobStatus::Succeeded {
            for f in &self.failures {
                let which = f
                    .index
                    .map_or("an image".into(), |i| format!("image {}", i + 1));
                out.push_str(&format!("\n- {which} failed: {}", f.describe()));
            }
        }
        if let Some(next) = &self.next_step {
            out.push('\n');
            out.push_str(next);
        }
        for w in &self.warnings {
            out.push_str(&format!("\nWarning: {w}"));
        }
        for c in &self.copies {
            out.push_str(&format!("\n- copied to {c}"));
        }
        if let Some(note) = &self.note {
            out.push_str(&format!("\nNote: {note}"));
        }
        if let Some(note) = &self.preview_note {
            out.push_str(&format!("\nPreview: {note}"));
        }
        out.push_str(&format!("\njob_id: {}", self.job_id));
        out
    }
}

/// The seed the report names: the files' own once there are files (none when they were
/// made without one), the request's before.
fn reported_seed(job: &Job) -> Option<u64> {
    if job.images.is_empty() {
        return Some(job.request.seed);
    }
    job.images
        .iter()
        .min_by_key(|i| i.index)
        .and_then(|i| i.seed)
}

/// What the files really are: a workflow may keep its input's size or scale it.
fn reported_size(job: &Job) -> String {
    let mut sizes: Vec<String> = Vec::new();
    let mut images: Vec<_> = job.images.iter().collect();
    images.sort_by_key(|i| i.index);
    for i in images {
        let size = format!("{}x{}", i.width, i.height);
        if !sizes.contains(&size) {
            sizes.push(size);
        }
    }
    if sizes.is_empty() {
        job.request.size.to_string()
    } else {
        sizes.join(", ")
    }
}

fn kind_name(e: &crate::backend::BackendError) -> String {
    serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "failed".into())
}

/// The process-wide bound on previews being built.
fn preview_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

/// Builds the tool result for `job`: error results for failed and cancelled jobs.
pub async fn tool_result(job: &Job, preview: PreviewMode, extras: Extras) -> CallToolResult {
    let mut report = JobReport::new(job);
    report.copies = extras.copies;
    report.note = extras.note;
    let paths: Vec<_> = job.images.iter().map(|i| i.path.clone()).collect();
    let plan = if preview == PreviewMode::None || paths.is_empty() {
        None
    } else {
        // Previews are CPU-bound: at most one per core at a time, so a burst of results is
        // answered as each is ready (not all at the end) and only a few decoded images are
        // in memory at once.
        let _slot = preview_slots().acquire().await.ok();
        tokio::task::spawn_blocking(move || {
            let blobs: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
            let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
            plan_media_previews(&refs, preview)
        })
        .await
        .ok()
    };
    let mut images = Vec::new();
    if let Some(plan) = plan {
        report.preview_note = plan.note;
        images = plan
            .previews
            .into_iter()
            .map(|p| ContentBlock::image(p.base64, p.mime))
            .collect();
    }
    let mut content = vec![ContentBlock::text(report.text())];
    content.extend(images);
    for (f, saved) in report.files.iter().zip(&job.images) {
        let name = saved
            .path
            .file_name()
            .map_or_else(|| f.uri.clone(), |n| n.to_string_lossy().into_owned());
        content.push(ContentBlock::resource_link(
            Resource::new(f.uri.clone(), name)
                .with_mime_type(f.mime.clone())
                .with_size(f.bytes)
                .with_description(format!(
                    "{}x{} {} saved at {}",
                    f.width,
                    f.height,
                    f.what(),
                    f.path
                )),
        ));
    }
    // A cancelled job is what someone asked for, not a failure to act on.
    let failed = job.status == JobStatus::Failed;
    let mut result = if failed {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    result.structured_content = serde_json::to_value(&report).ok();
    result
}
