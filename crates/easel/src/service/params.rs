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
    /// What to draw, under 2000 characters.
    ///
    /// English often works best.
    pub prompt: String,
    /// What to keep out.
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// modelscope, comfyui or a provider name; default from config.
    #[serde(default)]
    pub backend: Option<String>,
    /// Model id; default Qwen/Qwen-Image (fast: Tongyi-MAI/Z-Image-Turbo).
    ///
    /// Also black-forest-labs/FLUX.1-Krea-dev on ModelScope; OpenAI-compatible providers take their own ids (e.g. gpt-image-1), and their default comes from configuration.
    #[serde(default)]
    pub model: Option<String>,
    /// WIDTHxHEIGHT; sides 64-1664 (Qwen-Image), 64-1024 (FLUX), 512-2048 (Z-Image).
    ///
    /// Each side: Qwen-Image 64-1664, FLUX 64-1024, SD 64-2048, Z-Image 512-2048; a size a model cannot make is refused with the sizes it can.
    #[serde(default = "default_size")]
    pub size: String,
    /// 0-2147483647; random when omitted.
    ///
    /// The seed used is always reported.
    #[serde(default)]
    pub seed: Option<u64>,
    /// 1-100; model default when omitted.
    #[serde(default)]
    pub steps: Option<u32>,
    /// 1.5-20; model default when omitted.
    #[serde(default)]
    pub guidance: Option<f64>,
    /// LoRA repo id, or up to 6 as {"repo/a": 0.6, "repo/b": 0.4} (weights sum to 1).
    #[serde(default)]
    pub loras: Option<Loras>,
    /// ComfyUI workflow (list_workflows); default from config.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Backend-specific: workflow parameters, provider options.
    ///
    /// ComfyUI: the workflow's parameters by name, as list_workflows describes them; image parameters take a path relative to the output root. OpenAI-compatible providers: quality, background, output_format, ...; anything a backend cannot take is listed in the result's warnings.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Images, 1-8 (seeds seed, seed+1, ...).
    #[serde(default = "default_count")]
    pub count: u32,
    /// Folder under the output root.
    #[serde(default)]
    pub output_dir: Option<String>,
    /// File name, no folder or extension; never overwrites.
    ///
    /// The extension follows the real image type; a name that exists gets -2, -3, ...
    #[serde(default)]
    pub filename: Option<String>,
    /// original keeps the backend's bytes; others convert.
    ///
    /// "jpeg" is quality 90 with transparency flattened onto white; "png" and "webp" are lossless.
    #[serde(default)]
    pub format: OutputFormat,
    /// Inline preview; full only if small.
    ///
    /// "thumbnail": JPEG at most 512 px on the longest side; "full": the originals if together they fit in the result (about 900 KiB), thumbnails otherwise; "none": paths only.
    #[serde(default)]
    pub preview: PreviewMode,
    /// Seconds to wait, 0-600 (default 45); then a job_id for get_job.
    ///
    /// If the job is still running then, the result has status "running" and its job_id for get_job; 0 returns at once.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Same key, same job: never pays twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditImageParams {
    /// The change, e.g. "make the sky bluer".
    pub prompt: String,
    /// Output-root paths, easel:// URIs or http(s) URLs.
    ///
    /// Paths relative to the output root or inside an input_dirs folder; URIs like easel://jobs/{job_id}/images/{index}.
    pub images: Vec<String>,
    /// Mask (transparent = edit), named like images.
    #[serde(default)]
    pub mask: Option<String>,
    /// What to keep out.
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// Backend; default from config. modelscope needs public URLs.
    ///
    /// comfyui and OpenAI-compatible providers upload local files.
    #[serde(default)]
    pub backend: Option<String>,
    /// Model; ModelScope default Qwen/Qwen-Image-Edit-2509.
    ///
    /// Also black-forest-labs/FLUX.1-Kontext-dev.
    #[serde(default)]
    pub model: Option<String>,
    /// WIDTHxHEIGHT (ModelScope follows the source).
    #[serde(default = "default_size")]
    pub size: String,
    /// 0-2147483647; random when omitted.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Results, 1-8.
    #[serde(default = "default_count")]
    pub count: u32,
    /// ComfyUI workflow; default img2img.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Backend-specific options.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Folder under the output root.
    #[serde(default)]
    pub output_dir: Option<String>,
    /// File name; never overwrites.
    #[serde(default)]
    pub filename: Option<String>,
    /// File format.
    #[serde(default)]
    pub format: OutputFormat,
    /// Inline image.
    #[serde(default)]
    pub preview: PreviewMode,
    /// Seconds to wait, 0-600 (default 45).
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Same key, same job: never pays twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetJobParams {
    /// From generate_image, edit_image or list_jobs.
    pub job_id: String,
    /// Seconds to wait, 0-600 (default 45).
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Inline image.
    #[serde(default)]
    pub preview: PreviewMode,
    /// Copy the files to this output-root folder too.
    ///
    /// Never overwrites.
    #[serde(default)]
    pub copy_to: Option<String>,
    /// Save again images made but not saved (e.g. disk full); never regenerates.
    ///
    /// For a finished job whose images were made but could not be downloaded or saved (disk full, folder not writable): fix the cause, then pass true. Images already saved are kept; nothing is paid again.
    #[serde(default)]
    pub retry_save: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobsParams {
    /// Only jobs in this state.
    #[serde(default)]
    pub status: Option<JobStatus>,
    /// 1-200 (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
    /// RFC 3339 time or age like "2h", "7d".
    ///
    /// Only jobs created since then, e.g. "2026-11-21T08:00:00Z" or "7d".
    #[serde(default)]
    pub since: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelJobParams {
    /// The job to cancel.
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
