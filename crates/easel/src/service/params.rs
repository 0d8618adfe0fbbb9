//! Tool parameters. Field doc comments become the schema descriptions an LLM reads, so they
//! are short and say range and default.

use schemars::JsonSchema;
use serde::Deserialize;

use serde_json::{Map, Value};

use crate::batch::Line;
use crate::intake::JobInput;
use crate::jobs::JobStatus;
use crate::outputs::{OutputFormat, PreviewMode};
use crate::request::{DEFAULT_COUNT, DEFAULT_SIZE, Loras};

fn default_size() -> String {
    DEFAULT_SIZE.to_string()
}

fn default_count() -> u32 {
    DEFAULT_COUNT
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateImageParams {
    /// What to draw, under 2000 characters.
    ///
    /// English often works best.
    pub prompt: String,
    /// What to keep out.
    ///
    /// Under 2000 characters.
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// modelscope, comfyui or a provider name; default from config.
    ///
    /// modelscope, comfyui, openai, the name of a configured OpenAI-compatible provider, or a ComfyUI pool name; the default is configuration's default_backend (modelscope unless set).
    #[serde(default)]
    pub backend: Option<String>,
    /// Model id; default Qwen/Qwen-Image (fast: Tongyi-MAI/Z-Image-Turbo).
    ///
    /// Also e.g. black-forest-labs/FLUX.1-Krea-dev or MAILAND/majicflus_v1 on ModelScope; OpenAI-compatible providers take their own ids (e.g. gpt-image-1), and their default comes from configuration.
    #[serde(default)]
    pub model: Option<String>,
    /// WIDTHxHEIGHT; sides 64-1664 (Qwen-Image), 64-1024 (FLUX), 512-2048 (Z-Image).
    ///
    /// Each side: Qwen-Image 64-1664, FLUX 64-1024, Stable Diffusion 64-2048, Z-Image 512-2048; other models are passed through.
    #[serde(default = "default_size")]
    pub size: String,
    /// 0-2147483647; random when omitted.
    ///
    /// Reported per file. On ModelScope image i of a call uses seed + i; on ComfyUI the count images are one batch drawn from this one seed, so each reports it (run the same seed and count again to get them back). A ComfyUI workflow without a seed input uses none: no seed is reported or put in the file name.
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
    ///
    /// The default is configuration's comfyui.default_workflow (flux-dev unless set).
    #[serde(default)]
    pub workflow: Option<String>,
    /// Backend-specific: workflow parameters, provider options.
    ///
    /// ComfyUI: the workflow's parameters by name, e.g. {"style": "ink"}, as list_workflows describes them; image parameters take a path relative to the output root (uploaded to ComfyUI for you); a wrong type or out-of-range value is refused before anything is sent. OpenAI-compatible providers: quality, background, output_format, output_compression, moderation, style, user, input_fidelity. Anything a backend has no place for is listed in the result's warnings, never silently dropped.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Images, 1-8 (seeds seed, seed+1, ...).
    ///
    /// ModelScope makes one image per task, so easel submits count tasks at once; on ComfyUI it is the batch size.
    #[serde(default = "default_count")]
    pub count: u32,
    /// Folder under the output root.
    ///
    /// Created as needed. Absolute paths, .., drive letters, UNC paths and symlinks out of the root are refused.
    #[serde(default)]
    pub output_dir: Option<String>,
    /// File name, no folder or extension; never overwrites.
    ///
    /// Default <time>-<prompt words>-s<seed>. The extension comes from the real image type. With count > 1 each image gets its number: name-1, name-2, ... A name that exists becomes name-2.png, name-3.png, ...
    #[serde(default)]
    pub filename: Option<String>,
    /// original keeps the backend's bytes; others convert.
    ///
    /// "png" and "webp" are lossless; "jpeg" is quality 90 with transparency flattened onto white. Animations and videos are always kept as made.
    #[serde(default)]
    pub format: OutputFormat,
    /// Inline preview; full only if small.
    ///
    /// "thumbnail": inline JPEG at most 512 px, all previews together at most 256 KiB of base64. "full": the originals while they total at most 900 KiB (clients reject results over 1 MiB), else thumbnails and a note. "none": no inline image.
    #[serde(default)]
    pub preview: PreviewMode,
    /// Seconds to wait, 0-600 (default 45); then a job_id for get_job.
    ///
    /// The default is configuration's wait_seconds. If the job is not done by then, the result has status "running", the progress so far and the job_id; 0 returns right after submission.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Same key, same job: never pays twice.
    ///
    /// Any string (1-200 characters) naming this request. A second call with the same key returns the first job instead of submitting (and paying) again.
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
    /// The change, e.g. "make the sky bluer".
    pub prompt: String,
    /// Output-root paths, easel:// URIs or http(s) URLs.
    ///
    /// Each a path relative to the output root, an absolute path inside a configured input_dirs folder, an easel://jobs/{job_id}/images/{index} resource, or an http(s) URL. Anything else (outside the roots, .., not an image) is refused before anything is sent.
    pub images: Vec<String>,
    /// Mask (transparent = edit), named like images.
    ///
    /// For OpenAI-compatible providers and ComfyUI workflows with a mask image parameter.
    #[serde(default)]
    pub mask: Option<String>,
    /// What to keep out.
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// Backend; default from config. modelscope needs public URLs.
    ///
    /// ModelScope's edit models fetch the sources themselves, so each needs a public URL: an http(s) URL, or an easel image that ModelScope made (it keeps its URL); a local file is refused with that explanation (easel does not upload your files to a third-party host). ComfyUI: the sources are uploaded into the img2img workflow, or the workflow you name, in the order of its image parameters. OpenAI-compatible providers: POST /images/edits as multipart (image, or image[] for several, and mask).
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
    /// True only after the user approved this call; needed when easel cannot ask.
    #[serde(default)]
    #[allow(dead_code)] // read from the raw arguments by the confirmation gate (confirm.rs)
    pub confirm: bool,
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
    /// Only jobs created since then: a time (2026-11-21T08:00:00Z) or an age (30m, 2h, 7d).
    #[serde(default)]
    pub since: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelJobParams {
    /// The job to cancel.
    pub job_id: String,
}

impl From<GenerateImageParams> for JobInput {
    fn from(p: GenerateImageParams) -> Self {
        JobInput {
            prompt: p.prompt,
            negative_prompt: p.negative_prompt,
            backend: p.backend,
            model: p.model,
            size: Some(p.size),
            seed: p.seed,
            steps: p.steps,
            guidance: p.guidance,
            loras: p.loras,
            count: Some(p.count),
            workflow: p.workflow,
            params: p.params,
            output_dir: p.output_dir,
            filename: p.filename,
            format: p.format,
            preview: p.preview,
            wait_seconds: p.wait_seconds,
            idempotency_key: p.idempotency_key,
            ..JobInput::default()
        }
    }
}

impl EditImageParams {
    /// The typed input of this edit, its sources left for the caller to resolve (and the
    /// names to resolve).
    pub fn into_input(self) -> (JobInput, Vec<String>, Option<String>) {
        let input = JobInput {
            prompt: self.prompt,
            negative_prompt: self.negative_prompt,
            backend: self.backend,
            model: self.model,
            size: Some(self.size),
            seed: self.seed,
            count: Some(self.count),
            workflow: self.workflow,
            params: self.params,
            output_dir: self.output_dir,
            filename: self.filename,
            format: self.format,
            preview: self.preview,
            wait_seconds: self.wait_seconds,
            idempotency_key: self.idempotency_key,
            edit: true,
            ..JobInput::default()
        };
        (input, self.images, self.mask)
    }
}

/// One batch line as typed input: the batch's defaults, the line's own parameters over
/// them, and its prompt, read once as generate_image's parameters (a .jsonl line is JSON by
/// nature, and its keys are generate_image's).
pub fn batch_line_input(defaults: &Map<String, Value>, line: &Line) -> Result<JobInput, String> {
    let mut args = defaults.clone();
    for (k, v) in &line.overrides {
        args.insert(k.clone(), v.clone());
    }
    args.insert("prompt".into(), Value::String(line.prompt.clone()));
    let params: GenerateImageParams =
        serde_json::from_value(Value::Object(args)).map_err(|e| e.to_string())?;
    Ok(params.into())
}
