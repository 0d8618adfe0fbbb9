//! The job tools: generate_image, get_job, list_jobs, cancel_job.

use std::time::Duration;

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::EaselServer;
use super::listing::{JobList, job_list};
use super::params::{
    CancelJobParams, EditImageParams, GenerateImageParams, GetJobParams, ListJobsParams,
};
use super::report::{Extras, JobReport, tool_result};
use super::surface::icons;
use super::wait::wait_reporting;
use crate::intake::{Accepted, Face, JobInput, WaitLimits};
use crate::jobs::{Cancelled, Job, JobFilter, JobStatus, RetrySave, Submitted};
use crate::outputs::{OutputFormat, PreviewMode, SaveRequest, validate_relative_dir};
use crate::request::InvalidInput;
use crate::since::parse_since;

/// A source image that names nothing usable, as an error naming the field and the fix.
fn source_refused(field: &'static str, text: &str, why: String) -> InvalidInput {
    InvalidInput::new(
        field,
        format!("{:?} {why}", text.trim()),
        crate::sources::FIX,
    )
}

/// A tool error the agent can act on (`isError: true`).
fn refuse(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

impl EaselServer {
    /// How long this server's calls may wait (configuration's wait_seconds, and the ceiling).
    pub(super) fn wait_limits(&self) -> WaitLimits {
        let opts = &self.state.options;
        WaitLimits {
            default_secs: opts.wait_seconds,
            max_secs: opts.max_wait_seconds,
        }
    }

    pub(super) fn budget(&self, asked: Option<u64>) -> Result<Duration, InvalidInput> {
        self.wait_limits().budget(asked)
    }

    /// Waits for the job within the budget (reporting progress), then the job as it is.
    async fn wait_for(
        &self,
        job_id: &str,
        budget: Duration,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Job, CallToolResult> {
        let waited = wait_reporting(
            &self.state.jobs,
            job_id,
            budget,
            self.state.options.heartbeat,
            ctx.peer.clone(),
            ctx.meta.get_progress_token(),
            ctx.ct.clone(),
        )
        .await;
        match waited {
            Ok(Some(job)) => Ok(job),
            Ok(None) => Err(refuse(format!(
                "job_id: no job {job_id:?} exists. Use a job_id returned by generate_image, or list_jobs."
            ))),
            Err(e) => Err(refuse(format!("easel could not read its job store: {e}"))),
        }
    }

    /// Copies a finished job's files into `dir` under the output root, never overwriting.
    async fn copy_files(&self, job: &Job, dir: &str) -> Result<Vec<String>, String> {
        let outputs = self.state.jobs.outputs().clone();
        let sources: Vec<_> = job.images.iter().map(|i| i.path.clone()).collect();
        let dir = dir.to_string();
        tokio::task::spawn_blocking(move || {
            let mut copies = Vec::new();
            for src in sources {
                let bytes = std::fs::read(&src)
                    .map_err(|e| format!("cannot read {}: {e}", src.display()))?;
                let stem = src
                    .file_stem()
                    .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned());
                let saved = outputs
                    .save(&SaveRequest {
                        dir: Some(&dir),
                        stem: &stem,
                        bytes: &bytes,
                        format: OutputFormat::Original,
                    })
                    .map_err(|e| Face::GetJob.output_error(&e))?;
                copies.push(saved.path.display().to_string());
            }
            Ok(copies)
        })
        .await
        .map_err(|e| format!("copying was interrupted: {e}"))?
    }
}

/// A generating call whose arguments passed every check and whose job is recorded (ARCHITECTURE.md
/// decision 9): the waiting tool and the MCP task path both start from here.
pub(super) struct Prepared {
    pub submitted: Submitted,
    pub preview: PreviewMode,
    pub budget: Duration,
}

impl EaselServer {
    /// generate_image's work, shared with the per-workflow tools.
    pub(super) async fn generate(
        &self,
        input: JobInput,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        match self.prepare_generate(input) {
            Ok(prepared) => self.report_prepared(prepared, ctx).await,
            Err(refusal) => refusal,
        }
    }

    /// Validates a generating call's input and records its job.
    pub(super) fn prepare_generate(&self, input: JobInput) -> Result<Prepared, CallToolResult> {
        let Accepted {
            submitted,
            preview,
            budget,
        } = input
            .submit(&self.state.jobs, self.wait_limits(), Face::Mcp)
            .map_err(refuse)?;
        Ok(Prepared {
            submitted,
            preview,
            budget,
        })
    }

    /// Waits within the budget, and reports the job: shared by the generating tools.
    async fn report_prepared(
        &self,
        prepared: Prepared,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let Prepared {
            submitted,
            preview,
            budget,
        } = prepared;
        let job = match self.wait_for(&submitted.job.id, budget, &ctx).await {
            Ok(job) => job,
            Err(refusal) => return refusal,
        };
        let note = submitted.existing.then(|| {
            "idempotency_key matched an earlier job: this is that job; nothing new was submitted".to_string()
        });
        tool_result(
            &job,
            preview,
            Extras {
                note,
                ..Extras::default()
            },
        )
        .await
    }

    /// edit_image's work: resolve the sources, then a job like any other.
    async fn edit(&self, p: EditImageParams, ctx: RequestContext<RoleServer>) -> CallToolResult {
        match self.prepare_edit(p).await {
            Ok(prepared) => self.report_prepared(prepared, ctx).await,
            Err(refusal) => refusal,
        }
    }

    /// Validates edit_image's arguments (reading the sources) and records its job.
    pub(super) async fn prepare_edit(
        &self,
        p: EditImageParams,
    ) -> Result<Prepared, CallToolResult> {
        let (mut input, images, mask) = p.into_input();
        // Refused in this order before any file is read.
        self.budget(input.wait_seconds)
            .map_err(|e| refuse(Face::Mcp.invalid(&e)))?;
        input.backend(&self.state.jobs, Face::Mcp).map_err(refuse)?;
        let jobs = &self.state.jobs;
        if images.is_empty() {
            return Err(refuse(
                "images: no source image given. Name at least one image to edit (a path relative to the output root, an easel:// resource, or an http(s) URL).",
            ));
        }
        // Files are read to check they are images: on the blocking pool.
        let roots = self.input_roots();
        let (jobs_for_check, names, mask_name) = (jobs.clone(), images, mask);
        let checked = tokio::task::spawn_blocking(move || {
            let mut sources = Vec::new();
            for text in &names {
                let found = crate::sources::resolve(&jobs_for_check, &roots, text)
                    .map_err(|why| source_refused("images", text, why))?;
                sources.extend(found);
            }
            let mask = match mask_name.as_deref() {
                None => None,
                Some(text) => {
                    let mut found = crate::sources::resolve(&jobs_for_check, &roots, text)
                        .map_err(|why| source_refused("mask", text, why))?;
                    if found.len() != 1 {
                        return Err(source_refused(
                            "mask",
                            text,
                            format!("names {} images; a mask is one image", found.len()),
                        ));
                    }
                    found.pop()
                }
            };
            Ok((sources, mask))
        })
        .await;
        let (sources, mask) = match checked {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return Err(refuse(e.to_string())),
            Err(e) => return Err(refuse(format!("checking the images was interrupted: {e}"))),
        };
        input.sources = sources;
        input.mask = mask;
        self.prepare_generate(input)
    }
}

#[tool_router(vis = "pub")]
impl EaselServer {
    /// Make images from a text prompt and save them under the output root.
    /// Returns the saved files (paths, easel:// URIs, seeds) and a small preview. A job not done within wait_seconds returns status "running" and a job_id: get_job waits for it; the job keeps running either way.
    /// The result has a short text (paths, model, seed, time), one resource_link per file (easel://jobs/{job_id}/images/{index}), the previews, and structuredContent as below.
    #[tool(
        name = "generate_image",
        output_schema = schema_for_output::<JobReport>(),
        icons = icons::icon(icons::GENERATE),
        annotations(title = "Generate image", destructive_hint = false)
    )]
    async fn generate_image(
        &self,
        Parameters(p): Parameters<GenerateImageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.generate(p.into(), ctx).await
    }

    /// Edit images as the prompt says, optionally within a mask.
    /// Sources are paths in the output root (or an input_dirs folder), easel://jobs/{job_id}/images/{index} URIs, or http(s) URLs: modelscope needs public URLs, comfyui and OpenAI-compatible providers upload local files. Saves and reports like generate_image, naming the sources.
    #[tool(
        name = "edit_image",
        output_schema = schema_for_output::<JobReport>(),
        icons = icons::icon(icons::EDIT),
        annotations(title = "Edit image", destructive_hint = false)
    )]
    async fn edit_image(
        &self,
        Parameters(p): Parameters<EditImageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.edit(p, ctx).await
    }

    /// Wait for a job (up to wait_seconds); report its status and files.
    /// Returns the same result as generate_image. The files are already saved; copy_to also copies them into another folder inside the output root (never overwriting). Works for jobs run by another easel process sharing the same data dir.
    /// retry_save fetches again, from what the backend still holds, images that were made but could not be downloaded or saved, then waits as usual; a job with nothing to retry says so in the result's note. (A second generate_image with the same idempotency_key still returns the same job, failed or not.)
    #[tool(
        name = "get_job",
        output_schema = schema_for_output::<JobReport>(),
        icons = icons::icon(icons::JOB),
        annotations(title = "Get job", destructive_hint = false, open_world_hint = false)
    )]
    async fn get_job(
        &self,
        Parameters(p): Parameters<GetJobParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let budget = match self.budget(p.wait_seconds) {
            Ok(b) => b,
            Err(e) => return refuse(e.to_string()),
        };
        if let Some(dir) = &p.copy_to
            && let Err(e) = validate_relative_dir(dir)
        {
            return refuse(Face::GetJob.output_error(&e));
        }
        let mut extras = Extras::default();
        if p.retry_save {
            // An unknown job_id is reported by the wait below.
            match self.state.jobs.retry_save(&p.job_id) {
                Ok(Some(RetrySave::Nothing(why))) => {
                    extras.note = Some(format!("retry_save: nothing to do: {why}"));
                }
                Ok(_) => {}
                Err(e) => return refuse(format!("easel could not read its job store: {e}")),
            }
        }
        let job = match self.wait_for(&p.job_id, budget, &ctx).await {
            Ok(job) => job,
            Err(refusal) => return refusal,
        };
        if let Some(dir) = &p.copy_to {
            if job.status != JobStatus::Succeeded {
                let skipped = format!("copy_to skipped: the job is {}", job.status.as_str());
                extras.note = Some(match extras.note.take() {
                    Some(note) => format!("{note}; {skipped}"),
                    None => skipped,
                });
            } else {
                match self.copy_files(&job, dir).await {
                    Ok(copies) => extras.copies = copies,
                    Err(e) => return refuse(e),
                }
            }
        }
        tool_result(&job, p.preview, extras).await
    }

    /// List recent jobs, newest first.
    /// Each job compact: id, status, model, the prompt's start, file paths. Filter by status or by creation time.
    #[tool(
        name = "list_jobs",
        output_schema = schema_for_output::<JobList>(),
        icons = icons::icon(icons::JOBS),
        annotations(title = "List jobs", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_jobs(&self, Parameters(p): Parameters<ListJobsParams>) -> CallToolResult {
        let limit = p.limit.unwrap_or(20);
        if !(1..=200).contains(&limit) {
            return refuse(format!(
                "limit: {limit} is outside 1..=200. Ask for 1 to 200 jobs."
            ));
        }
        let since_ms = match p
            .since
            .as_deref()
            .map(|s| parse_since("since", s))
            .transpose()
        {
            Ok(s) => s.unwrap_or(0),
            Err(e) => return refuse(e.to_string()),
        };
        let filter = JobFilter {
            status: p.status,
            since_ms,
            limit,
            ..JobFilter::default()
        };
        match self.state.jobs.list(&filter) {
            Ok(jobs) => job_list(&jobs),
            Err(e) => refuse(format!("easel could not read its job store: {e}")),
        }
    }

    /// Cancel a job; easel saves none of its images.
    /// easel marks the job cancelled and makes sure images that finish later are not saved. The result's text says whether the backend itself could stop the work (ModelScope has no cancel API: the task finishes there and counts against the quota).
    #[tool(
        name = "cancel_job",
        output_schema = schema_for_output::<JobReport>(),
        icons = icons::icon(icons::CANCEL),
        annotations(title = "Cancel job", destructive_hint = true)
    )]
    async fn cancel_job(
        &self,
        Parameters(p): Parameters<CancelJobParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let jobs = &self.state.jobs;
        let note = match jobs.cancel(&p.job_id).await {
            Err(e) => return refuse(format!("easel could not read its job store: {e}")),
            Ok(Cancelled::NotFound) => {
                return refuse(format!(
                    "job_id: no job {:?} exists. Use list_jobs to see job ids.",
                    p.job_id
                ));
            }
            Ok(Cancelled::AlreadyFinished(status)) => Some(format!(
                "the job had already finished ({}); nothing was cancelled",
                status.as_str()
            )),
            Ok(Cancelled::Stopping | Cancelled::Marked(_)) => None,
        };
        // Stopping takes one backend call at most; wait for the final state.
        let job = match self
            .wait_for(&p.job_id, Duration::from_secs(30), &ctx)
            .await
        {
            Ok(job) => job,
            Err(refusal) => return refusal,
        };
        tool_result(
            &job,
            PreviewMode::None,
            Extras {
                note,
                ..Extras::default()
            },
        )
        .await
    }
}
