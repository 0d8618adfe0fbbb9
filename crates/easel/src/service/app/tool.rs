//! `run_again`, the one tool only the view calls: a stored job's request, run again as a
//! new job (a new random seed for a variation). The view's other buttons reuse the model's
//! tools (`get_job` to follow a job, `cancel_job`, `publish_note` to a draft publisher),
//! since a tool the model also has costs no extra surface.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::super::EaselServer;
use super::super::report::JobReport;
use super::super::surface::icons;
use crate::intake::JobInput;
use crate::outputs::PreviewMode;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunAgainParams {
    /// The job whose request to run again.
    pub job_id: String,
    /// True: a new random seed (a variation); false: the job's own seed.
    #[serde(default)]
    pub variation: bool,
    /// Seconds to wait, 0-600 (default 45); then a job_id for get_job.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Inline preview, as generate_image's.
    #[serde(default)]
    pub preview: PreviewMode,
    /// True only after the user approved this call; needed when easel cannot ask.
    #[serde(default)]
    #[allow(dead_code)] // read from the raw arguments by the confirmation gate (confirm.rs)
    pub confirm: bool,
}

impl EaselServer {
    /// The stored job's request as a new input, or the refusal naming the field.
    pub(in super::super) fn again_input(&self, p: &RunAgainParams) -> Result<JobInput, String> {
        match self.state.jobs.get(&p.job_id) {
            Ok(Some(job)) => {
                let mut input = JobInput::again(&job, p.variation);
                input.wait_seconds = p.wait_seconds;
                input.preview = p.preview;
                Ok(input)
            }
            Ok(None) => Err(format!(
                "job_id: no job {:?} exists. Use a job_id returned by generate_image, or list_jobs.",
                p.job_id
            )),
            Err(e) => Err(format!("easel could not read its job store: {e}")),
        }
    }
}

#[tool_router(router = app_router, vis = "pub(in super::super)")]
impl EaselServer {
    /// Run a job's request again as a new job, with its seed or (variation) a new one.
    /// Only easel's MCP App view calls it (hidden from the model). Saves and reports like generate_image; paid generations above the threshold are confirmed as generate_image's are.
    #[tool(
        name = "run_again",
        output_schema = schema_for_output::<JobReport>(),
        icons = icons::icon(icons::GENERATE),
        annotations(title = "Run again", destructive_hint = false)
    )]
    async fn run_again(
        &self,
        Parameters(p): Parameters<RunAgainParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        match self.again_input(&p) {
            Ok(input) => self.generate(input, ctx).await,
            Err(why) => CallToolResult::error(vec![ContentBlock::text(why)]),
        }
    }
}
