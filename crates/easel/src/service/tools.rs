//! The job tools: generate_image and get_job.

use std::time::Duration;

use rand::Rng;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::EaselServer;
use super::params::{GenerateImageParams, GetJobParams};
use super::report::{JobReport, tool_result};
use super::wait::wait_reporting;
use crate::jobs::{OutputSpec, SubmitError};
use crate::outputs::PreviewMode;
use crate::request::{GenerateRequest, InvalidInput, MAX_SEED, Size};

/// A tool error the agent can act on (`isError: true`).
fn refuse(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

impl EaselServer {
    fn budget(&self, asked: Option<u64>) -> Result<Duration, InvalidInput> {
        let opts = &self.state.options;
        let secs = asked.unwrap_or(opts.wait_seconds);
        if secs > opts.max_wait_seconds {
            return Err(InvalidInput::new(
                "wait_seconds",
                format!("{secs} is above the maximum of {}", opts.max_wait_seconds),
                "Use 0 to 600; a job that takes longer keeps running and get_job waits again.",
            ));
        }
        Ok(Duration::from_secs(secs))
    }

    /// Waits for the job within the budget, then reports it.
    async fn wait_and_report(
        &self,
        job_id: &str,
        budget: Duration,
        preview: PreviewMode,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
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
            Ok(Some(job)) => tool_result(&job, preview).await,
            Ok(None) => refuse(format!(
                "job_id: no job {job_id:?} exists. Use the job_id returned by generate_image."
            )),
            Err(e) => refuse(format!("easel could not read its job store: {e}")),
        }
    }
}

#[tool_router(vis = "pub")]
impl EaselServer {
    /// Make images from a text prompt and save them under easel's output root. Returns file paths, URLs, seeds and a small preview. If the images take longer than wait_seconds, returns status "running" and a job_id for get_job.
    #[tool(
        name = "generate_image",
        output_schema = schema_for_output::<JobReport>(),
        annotations(title = "Generate image", read_only_hint = false, destructive_hint = false, open_world_hint = true)
    )]
    async fn generate_image(
        &self,
        Parameters(p): Parameters<GenerateImageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let budget = match self.budget(p.wait_seconds) {
            Ok(b) => b,
            Err(e) => return refuse(e.to_string()),
        };
        let jobs = &self.state.jobs;
        let backend = match jobs.backend(p.backend.as_deref()) {
            Ok(b) => b,
            Err(e) => return refuse(e.to_string()),
        };
        let size = match Size::parse(&p.size) {
            Ok(s) => s,
            Err(e) => return refuse(e.to_string()),
        };
        let request = GenerateRequest {
            prompt: p.prompt,
            negative_prompt: p.negative_prompt,
            model: p
                .model
                .unwrap_or_else(|| backend.default_model().to_string()),
            size,
            seed: p
                .seed
                .unwrap_or_else(|| rand::rng().random_range(0..=MAX_SEED)),
            steps: p.steps,
            guidance: p.guidance,
            loras: p.loras,
            count: p.count,
        };
        let output = OutputSpec {
            dir: p.output_dir,
            stem: p.filename,
            format: p.format,
        };
        let job = match jobs.submit(Some(backend.name()), request, output) {
            Ok(job) => job,
            Err(SubmitError::Store(e)) => {
                return refuse(format!("easel could not record the job: {e}"));
            }
            Err(e) => return refuse(e.to_string()),
        };
        self.wait_and_report(&job.id, budget, p.preview, ctx).await
    }

    /// Status, progress and files of a job from generate_image. Waits up to wait_seconds for it to finish; the files are already saved.
    #[tool(
        name = "get_job",
        output_schema = schema_for_output::<JobReport>(),
        annotations(title = "Get job", read_only_hint = true, open_world_hint = false)
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
        self.wait_and_report(&p.job_id, budget, p.preview, ctx)
            .await
    }
}
