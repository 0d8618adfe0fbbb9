//! The MCP face of easel: tools, resources and prompts. Thin: parse, validate, call `jobs`,
//! report. Nothing here knows a backend's wire format.

pub mod app;
mod batch_tool;
mod catalog;
mod confirm;
mod consequence;
mod listing;
mod older_peers;
mod params;
mod prompts;
mod publish_prompts;
mod publishing;
mod report;
mod resources;
pub mod surface;
mod tasks;
mod tools;
mod wait;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CancelTaskParams, ExtensionCapabilities,
    GetTaskParams, GetTaskResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ResultType, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, prompt_handler, tool_handler};
use tokio::sync::watch;

use crate::jobs::Jobs;
use crate::workflows::Library;

pub use catalog::{WorkflowList, workflow_list};
pub use params::{GenerateImageParams, GetJobParams, batch_line_input};
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
    /// When to ask the user before publishing or spending a paid quota.
    pub confirm: crate::config::ConfirmSettings,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            wait_seconds: crate::request::DEFAULT_WAIT_SECONDS,
            max_wait_seconds: crate::request::MAX_WAIT_SECONDS,
            heartbeat: Duration::from_secs(10),
            workflow_tools: false,
            input_dirs: Vec::new(),
            publishers: crate::publish::Publishers::default(),
            confirm: crate::config::ConfirmSettings::default(),
        }
    }
}

struct State {
    jobs: Jobs,
    library: Arc<Library>,
    options: ServiceOptions,
    /// Batches run as MCP tasks by this process, by task id (see `tasks`).
    batches: Mutex<HashMap<String, watch::Receiver<crate::batch::BatchState>>>,
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
        // The view-only tools are routed like any other; `app::listed` decides who sees them.
        let mut tool_router = Self::defined_tools() + Self::app_router();
        surface::finish(&mut tool_router);
        // Per-workflow tools are built from the workflow files as they are: optional, and
        // outside the size budget (their number depends on the workflows one has).
        if options.workflow_tools {
            for route in catalog::workflow_routes(&library) {
                tool_router.add_route(route);
            }
        }
        confirm::guard(&mut tool_router);
        EaselServer {
            state: Arc::new(State {
                jobs,
                library,
                options,
                batches: Mutex::new(HashMap::new()),
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
    /// The jobs this server runs (the HTTP face's health check asks their store).
    pub fn jobs(&self) -> &Jobs {
        &self.state.jobs
    }

    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }
}

/// easel's capabilities with `extensions`, the MCP extensions it declares besides tasks.
///
/// Order matters in rmcp 3.9's builder: `enable_tasks()` inserts into the extension map,
/// while `enable_extensions_with(map)` replaces the whole map, so calling it after
/// `enable_tasks()` would silently drop tasks. Extensions go in first, tasks after (pinned
/// by the tests below).
fn capabilities(extensions: ExtensionCapabilities) -> ServerCapabilities {
    ServerCapabilities::builder()
        .enable_extensions_with(extensions)
        .enable_tasks()
        .enable_tools()
        .enable_prompts()
        .enable_resources()
        .build()
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for EaselServer {
    fn get_info(&self) -> ServerConfig {
        let mut extensions = ExtensionCapabilities::new();
        extensions.insert(app::EXTENSION_ID.to_string(), app::server_settings());
        ServerConfig::new(capabilities(extensions))
            .with_server_info(surface::implementation())
            .with_instructions(surface::instructions())
    }

    /// Generating and publishing tools answer with a task when the client declared the
    /// tasks extension (see `tasks`); everything else goes to the tool router, exactly as
    /// `#[tool_handler]` would route it.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if app::is_app_only(&request.name)
            && !app::client_supports(context.client_capabilities().as_ref())
        {
            return Err(app::not_for_this_client(&request.name));
        }
        if tasks::client_declared(&context)
            && let Some(answer) = self.call_as_task(&request, &context).await
        {
            return answer;
        }
        // Older clients get what their protocol version can parse (see `older_peers`).
        let version = context.protocol_version();
        let response = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await?;
        Ok(older_peers::fit(response, version.as_ref()))
    }

    /// The tools as this client may see them: with the MCP App's `_meta` and view-only
    /// tools for a client that renders MCP Apps, exactly the plain list for any other.
    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let has_apps = app::client_supports(context.client_capabilities().as_ref());
        // As `#[tool_handler]` answers, except that the list depends on the client's
        // capabilities, so only that client may cache it.
        let hints = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools: app::listed(self.tool_router.list_all(), has_apps),
            meta: None,
            next_cursor: None,
            ttl_ms: hints.then_some(0),
            cache_scope: hints.then_some(CacheScope::Private),
        })
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        self.task_get(&request.task_id).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.task_cancel(&request.task_id).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let first_page = request.as_ref().is_none_or(|r| r.cursor.is_none());
        let mut listed = resources::list(&self.state.jobs, request)?;
        // The view heads the first page for clients that render it (the spec lets servers
        // leave views out of the list; listing them lets a host review one up front).
        if first_page && app::client_supports(context.client_capabilities().as_ref()) {
            listed.resources.insert(0, app::resource());
        }
        Ok(listed)
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
        if request.uri.starts_with("ui://") {
            return app::read(&request.uri).map(Into::into);
        }
        resources::read(&self.state.jobs, &request.uri)
            .await
            .map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{JsonObject, TASKS_EXTENSION_ID};

    use super::*;

    const UI: &str = "io.modelcontextprotocol/ui";

    fn another_extension() -> ExtensionCapabilities {
        let mut map = ExtensionCapabilities::new();
        map.insert(UI.to_string(), JsonObject::new());
        map
    }

    #[test]
    fn tasks_and_another_extension_are_declared_together() {
        let caps = capabilities(another_extension());
        let extensions = caps.extensions.clone().expect("extensions");
        assert!(caps.supports_tasks(), "{extensions:?}");
        assert!(extensions.contains_key(UI), "{extensions:?}");
        assert!(caps.tools.is_some() && caps.prompts.is_some() && caps.resources.is_some());
    }

    /// Why `capabilities` adds tasks last: rmcp's `enable_extensions_with` replaces the map.
    #[test]
    fn rmcp_drops_tasks_when_the_extension_map_is_set_after_them() {
        let caps = ServerCapabilities::builder()
            .enable_tasks()
            .enable_extensions_with(another_extension())
            .build();
        assert!(
            !caps.supports_tasks(),
            "if rmcp now merges, simplify `capabilities`"
        );
    }

    #[tokio::test]
    async fn easel_declares_the_tasks_extension() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out").display().to_string();
        let data = dir.path().join("data").display().to_string();
        let config = crate::config::testing::load(
            "",
            &[("EASEL_OUTPUT_DIR", &out), ("EASEL_DATA_DIR", &data)],
        )
        .expect("config");
        let app = crate::app::build(&config, crate::app::Storage::Ephemeral).expect("app");
        let info = app.server(&config).get_info();
        let extensions = info.capabilities.extensions.expect("extensions");
        assert!(
            extensions.contains_key(TASKS_EXTENSION_ID),
            "{extensions:?}"
        );
    }
}
