//! Tool parameters. Field doc comments become the schema descriptions an LLM reads, so they
//! are short and say range and default.

use schemars::JsonSchema;
use serde::Deserialize;

use rand::Rng;

use crate::jobs::{JobStatus, Jobs, NewJob, OutputSpec};
use crate::outputs::{OutputFormat, PreviewMode};
use crate::request::Loras;
use crate::request::{GenerateRequest, MAX_SEED, Size};

fn default_size() -> String {
    "1024x1024".to_string()
}

fn default_count() -> u32 {
    1
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateImageParams {
    /// What to draw, under 2000 characters. English often works best.
    pub prompt: String,
    /// What to keep out of the image.
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// Backend name; default from configuration ("modelscope").
    #[serde(default)]
    pub backend: Option<String>,
    /// Model id; default "Qwen/Qwen-Image". Others: "Tongyi-MAI/Z-Image-Turbo" (fast), "black-forest-labs/FLUX.1-Krea-dev".
    #[serde(default)]
    pub model: Option<String>,
    /// WIDTHxHEIGHT. Each side: Qwen-Image 64-1664, FLUX 64-1024, SD 64-2048, Z-Image 512-2048.
    #[serde(default = "default_size")]
    pub size: String,
    /// 0-2147483647; random when omitted. The seed used is always reported.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Sampling steps, 1-100; model default when omitted.
    #[serde(default)]
    pub steps: Option<u32>,
    /// Prompt guidance, 1.5-20; model default when omitted.
    #[serde(default)]
    pub guidance: Option<f64>,
    /// LoRA repo id, or {"repo/a": 0.6, "repo/b": 0.4} (at most 6, weights sum to 1).
    #[serde(default)]
    pub loras: Option<Loras>,
    /// ComfyUI only: workflow name from list_workflows (default from configuration).
    #[serde(default)]
    pub workflow: Option<String>,
    /// ComfyUI only: workflow-specific parameters by name, as list_workflows describes them; image parameters take a path relative to the output root.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Images to make, 1-8; each gets its own seed (seed, seed+1, ...).
    #[serde(default = "default_count")]
    pub count: u32,
    /// Folder for the files, relative to the output root; created if missing.
    #[serde(default)]
    pub output_dir: Option<String>,
    /// File name without folder; the extension follows the real image type. Never overwrites: a clash gets -2, -3...
    #[serde(default)]
    pub filename: Option<String>,
    /// "original" keeps the backend's bytes; "png", "jpeg" or "webp" converts.
    #[serde(default)]
    pub format: OutputFormat,
    /// Inline image in the result: "thumbnail" (max 512 px), "none", or "full" (only if small enough).
    #[serde(default)]
    pub preview: PreviewMode,
    /// Seconds to wait for the images, 0-600 (default 45). If the job is still running then, a job_id is returned for get_job; 0 returns at once.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Any string naming this request; calling again with the same key returns the first job instead of paying for a second one.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// True only after the user approved this call; needed when easel cannot ask.
    #[serde(default)]
    #[allow(dead_code)] // read from the raw arguments by the confirmation gate (confirm.rs)
    pub confirm: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditImageParams {
    /// The change to make, e.g. "make the sky bluer" or "put this cat on a beach".
    pub prompt: String,
    /// Source images: paths relative to the output root, easel://jobs/{job_id}/images/{index}, or http(s) URLs.
    pub images: Vec<String>,
    /// Optional mask (transparent pixels mark where to edit), named like images.
    #[serde(default)]
    pub mask: Option<String>,
    /// What to keep out of the result.
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// Backend; default from configuration. modelscope needs public URLs; comfyui and OpenAI-compatible providers upload local files.
    #[serde(default)]
    pub backend: Option<String>,
    /// Edit model; ModelScope default "Qwen/Qwen-Image-Edit-2509" (also "black-forest-labs/FLUX.1-Kontext-dev").
    #[serde(default)]
    pub model: Option<String>,
    /// WIDTHxHEIGHT of the result; default 1024x1024 (ModelScope edits follow the source).
    #[serde(default = "default_size")]
    pub size: String,
    /// 0-2147483647; random when omitted.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Results to make, 1-8.
    #[serde(default = "default_count")]
    pub count: u32,
    /// ComfyUI only: workflow taking an image (default "img2img").
    #[serde(default)]
    pub workflow: Option<String>,
    /// Backend-specific parameters (ComfyUI workflow parameters; OpenAI quality, background, ...).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Folder for the files, relative to the output root.
    #[serde(default)]
    pub output_dir: Option<String>,
    /// File name without folder; never overwrites.
    #[serde(default)]
    pub filename: Option<String>,
    /// "original", "png", "jpeg" or "webp".
    #[serde(default)]
    pub format: OutputFormat,
    /// "thumbnail" (default), "none" or "full".
    #[serde(default)]
    pub preview: PreviewMode,
    /// Seconds to wait, 0-600 (default 45); then a job_id for get_job.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Same key, same job: never pays twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// True only after the user approved this call; needed when easel cannot ask.
    #[serde(default)]
    #[allow(dead_code)] // read from the raw arguments by the confirmation gate (confirm.rs)
    pub confirm: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetJobParams {
    /// The job_id returned by generate_image.
    pub job_id: String,
    /// Seconds to wait for the job to finish, 0-600 (default 45).
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Inline image in the result: "thumbnail" (default), "none", or "full".
    #[serde(default)]
    pub preview: PreviewMode,
    /// Also copy the finished files into this folder (relative to the output root); never overwrites.
    #[serde(default)]
    pub copy_to: Option<String>,
    /// For a finished job whose images were made but could not be downloaded or saved (disk full, folder not writable): fix the cause, then pass true to fetch them again from the backend and save them. Never generates (or pays) again; images already saved are kept.
    #[serde(default)]
    pub retry_save: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobsParams {
    /// Only jobs in this state.
    #[serde(default)]
    pub status: Option<JobStatus>,
    /// At most this many jobs, 1-200 (default 20), newest first.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Only jobs created since then: a time like "2026-11-21T08:00:00Z", or an age like "2h" or "7d".
    #[serde(default)]
    pub since: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelJobParams {
    /// The job_id to cancel.
    pub job_id: String,
}

impl GenerateImageParams {
    /// The job these parameters ask for: the backend's default model filled in, a random
    /// seed chosen when none was given (and always reported).
    pub fn into_job(self, jobs: &Jobs) -> Result<NewJob, String> {
        let backend = jobs
            .backend(self.backend.as_deref())
            .map_err(|e| e.to_string())?;
        let size = Size::parse(&self.size).map_err(|e| e.to_string())?;
        let request = GenerateRequest {
            prompt: self.prompt,
            negative_prompt: self.negative_prompt,
            model: self
                .model
                .or_else(|| backend.default_model().map(str::to_string)),
            size,
            seed: self
                .seed
                .unwrap_or_else(|| rand::rng().random_range(0..=MAX_SEED)),
            steps: self.steps,
            guidance: self.guidance,
            loras: self.loras,
            count: self.count,
            workflow: self.workflow.or_else(|| backend.default_workflow(false)),
            params: self.params,
            sources: Vec::new(),
            mask: None,
        };
        Ok(NewJob {
            backend: Some(backend.name().to_string()),
            request,
            output: OutputSpec {
                dir: self.output_dir,
                stem: self.filename,
                format: self.format,
            },
            idempotency_key: self.idempotency_key,
        })
    }
}
