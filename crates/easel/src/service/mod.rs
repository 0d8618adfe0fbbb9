//! The MCP face of easel: tools, resources and prompts. Thin: parse, validate, call `jobs`,
//! report. Nothing here knows a backend's wire format.

mod batch_tool;
mod catalog;
mod listing;
mod params;
mod prompts;
mod publish_prompts;
mod publishing;
mod report;
mod resources;
pub mod surface;
mod tools;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, prompt_handler, tool_handler};

use crate::jobs::Jobs;
use crate::workflows::Library;

pub use catalog::{WorkflowList, workflow_list};
pub use params::{GenerateImageParams, GetJobParams};
pub use report::{FileReport, JobReport, image_uri};

/// Settings of the MCP service that are not about backends.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Default and ceiling of `wait_seconds`.
    pub wait_seconds: u64,
    pub max_wait_seconds: u64,
    /// Interval of progress heartbeats while a backend is silent.
    pub heartbeat: Duration,
    /// Expose every ComfyUI workflow as its own tool.
    pub workflow_tools: bool,
    /// Folders besides the output root that edit sources may be read from.
    pub input_dirs: Vec<std::path::PathBuf>,
    /// Where publish_note sends notes.
    pub publishers: crate::publish::Publishers,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            wait_seconds: 45,
            max_wait_seconds: 600,
            heartbeat: Duration::from_secs(10),
            workflow_tools: false,
            input_dirs: Vec::new(),
            publishers: crate::publish::Publishers::default(),
        }
    }
}

struct State {
    jobs: Jobs,
    library: Arc<Library>,
    options: ServiceOptions,
}

/// One MCP server value; cheap to clone, one per connection or session.
#[derive(Clone)]
pub struct EaselServer {
    state: Arc<State>,
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl EaselServer {
    pub fn new(jobs: Jobs, library: Arc<Library>, options: ServiceOptions) -> Self {
        let mut tool_router = Self::defined_tools();
        surface::finish(&mut tool_router);
        // Per-workflow tools are built from the workflow files as they are: optional, and
        // outside the size budget (their number depends on the workflows one has).
        if options.workflow_tools {
            for route in catalog::workflow_routes(&library) {
                tool_router.add_route(route);
            }
        }
        EaselServer {
            state: Arc::new(State {
                jobs,
                library,
                options,
            }),
            tool_router,
            prompt_router: Self::prompt_router() + Self::publish_prompts(),
        }
    }

    /// Where files a caller names may be read from.
    pub(crate) fn input_roots(&self) -> crate::outputs::InputRoots {
        crate::outputs::InputRoots::new(
            self.state.jobs.outputs().clone(),
            &self.state.options.input_dirs,
        )
    }

    /// The tool list, for documentation and schema tests.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for EaselServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_server_info(surface::implementation())
        .with_instructions(surface::instructions())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        resources::list(&self.state.jobs, request)
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        resources::read(&self.state.jobs, &request.uri)
            .await
            .map(Into::into)
    }
}
