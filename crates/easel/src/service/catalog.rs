//! Tools that describe what easel can use: backends (health) and workflows (parameters),
//! and, when configured, one tool per workflow with its own schema.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRoute;
use rmcp::handler::server::tool::{ToolCallContext, schema_for_output};
use rmcp::model::{CallToolResult, ContentBlock, Tool};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::EaselServer;
use super::params::GenerateImageParams;
use super::surface::icons;
use crate::backend::BackendStatus;
use crate::backend::comfyui::doctor::WorkflowCheck;
use crate::workflows::{Library, ParamSpec, workflow_schema};

#[derive(Debug, Serialize, JsonSchema)]
pub struct BackendList {
    pub backends: Vec<BackendStatus>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowInfo {
    pub name: String,
    pub description: String,
    /// "builtin" or the file it was read from.
    pub source: String,
    pub params: Vec<ParamSpec>,
    /// Whether a ComfyUI server can run it now (its node types and model files are there);
    /// absent when no server could be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// What the servers lack, for a workflow that cannot run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_run: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowInfo>,
    /// Workflow files that could not be loaded, and why.
    pub problems: Vec<String>,
    /// Why readiness is not given, when the servers could not be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_note: Option<String>,
}

/// The ComfyUI backend's workflow checks, from its status details, when a server answered.
fn workflow_checks(details: &Value) -> Option<Vec<WorkflowCheck>> {
    if details.get("reachable").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    serde_json::from_value(details.get("workflows")?.clone()).ok()
}

/// One line per workflow that cannot run, with what is missing: the structured result has
/// it, and the model reading the text must not have to guess which of them fail.
fn unready_lines(details: &Value) -> String {
    workflow_checks(details)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            c.why_not()
                .map(|why| format!("\n  - workflow {} cannot run: {why}", c.name))
        })
        .collect()
}

/// How long list_workflows waits for the servers' answer before listing without readiness.
const READINESS_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One line per server of a ComfyUI pool (when it has several): state, queue, load.
fn server_lines(details: &Value) -> String {
    let servers = details
        .get("servers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if servers.len() < 2 {
        return String::new();
    }
    let mut out = String::new();
    for s in &servers {
        let health = &s["health"];
        let state = match (health["state"].as_str(), health["reason"].as_str()) {
            (Some("down"), Some(reason)) => format!("DOWN ({reason})"),
            (Some(state), _) => state.to_string(),
            _ => "?".to_string(),
        };
        let ready: Vec<&str> = s["workflows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| w["ready"].as_bool() == Some(true))
            .filter_map(|w| w["name"].as_str())
            .collect();
        out.push_str(&format!(
            "\n  - server {} ({}): {state}; queue {}, easel in flight {}, weight {}, mean job {}; runs {}",
            s["name"].as_str().unwrap_or("?"),
            s["url"].as_str().unwrap_or("?"),
            s["queue_remaining"].as_u64().map_or("?".into(), |q| q.to_string()),
            s["in_flight"].as_u64().unwrap_or(0),
            s["weight"].as_f64().unwrap_or(1.0),
            s["mean_job_secs"].as_f64().map_or("not measured".into(), |m| format!("{m:.2} s")),
            if ready.is_empty() { "no workflow".to_string() } else { ready.join(", ") },
        ));
    }
    out
}

fn structured<T: Serialize>(text: String, value: &T) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = serde_json::to_value(value).ok();
    r
}

pub fn workflow_list(library: &Library) -> WorkflowList {
    WorkflowList {
        workflows: library
            .list()
            .iter()
            .map(|w| WorkflowInfo {
                name: w.name.clone(),
                description: w.description.clone(),
                source: match &w.source {
                    crate::workflows::WorkflowSource::Builtin => "builtin".into(),
                    crate::workflows::WorkflowSource::File(p) => p.display().to_string(),
                },
                params: w.params.clone(),
                ready: None,
                cannot_run: None,
            })
            .collect(),
        problems: library
            .problems()
            .iter()
            .map(|p| format!("{}: {}", p.path.display(), p.message))
            .collect(),
        readiness_note: None,
    }
}

/// Fills in each workflow's readiness from a live check of the ComfyUI servers.
async fn add_readiness(list: &mut WorkflowList, server: &EaselServer) {
    let Ok(backend) = server.state.jobs.backend(Some("comfyui")) else {
        return;
    };
    let status = match tokio::time::timeout(READINESS_WAIT, backend.status()).await {
        Ok(status) => status,
        Err(_) => {
            list.readiness_note = Some(format!(
                "ComfyUI did not answer within {} s, so whether each workflow can run is not known; call backends to check.",
                READINESS_WAIT.as_secs()
            ));
            return;
        }
    };
    let Some(checks) = workflow_checks(&status.details) else {
        list.readiness_note = Some(format!(
            "no ComfyUI server could be checked ({}), so whether each workflow can run is not known.",
            status.summary
        ));
        return;
    };
    for w in &mut list.workflows {
        if let Some(check) = checks.iter().find(|c| c.name == w.name) {
            w.ready = Some(check.ready);
            w.cannot_run = check.why_not();
        }
    }
}

#[tool_router(router = catalog_router, vis = "pub")]
impl EaselServer {
    /// Check each backend: credentials, reachability, queue, ComfyUI workflows.
    /// ModelScope and OpenAI-compatible providers: the key is checked with a request that generates nothing and spends no quota (GET v1/tasks/0 on ModelScope, where 404 means "token accepted"; GET /models on a provider), reported ok, unauthorized or unreachable, never "ok" for a key that is merely set.
    /// ComfyUI: reachable, version, queue length, and for every workflow whether the server has its node types and model files (missing ones are listed with what the server has instead). With several ComfyUI servers: each server's state, queue, easel's jobs in flight, weight, mean job time and runnable workflows, and each pool as a backend of its own.
    #[tool(
        name = "backends",
        output_schema = schema_for_output::<BackendList>(),
        icons = icons::icon(icons::BACKENDS),
        annotations(title = "Backends", read_only_hint = true)
    )]
    async fn backends(&self) -> CallToolResult {
        let mut backends = Vec::new();
        for b in self.state.jobs.backends() {
            backends.push(b.status().await);
        }
        let mut text = String::from("Backends:");
        for b in &backends {
            let mark = if b.ready { "ready" } else { "NOT READY" };
            text.push_str(&format!("\n- {} ({mark}): {}", b.name, b.summary));
            text.push_str(&server_lines(&b.details));
            text.push_str(&unready_lines(&b.details));
        }
        structured(text, &BackendList { backends })
    }

    /// List ComfyUI workflows with their parameters.
    /// Built-in workflows and those in the workflows folder, each with its description, typed parameters for generate_image's workflow and params (name, kind, default, range, choices, and where in the graph each one lands) and whether a ComfyUI server can run it now; plus files that could not be loaded and why.
    #[tool(
        name = "list_workflows",
        output_schema = schema_for_output::<WorkflowList>(),
        icons = icons::icon(icons::WORKFLOWS),
        annotations(title = "List workflows", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_workflows(&self) -> CallToolResult {
        let mut list = workflow_list(&self.state.library);
        add_readiness(&mut list, self).await;
        let ready = list
            .workflows
            .iter()
            .filter(|w| w.ready == Some(true))
            .count();
        let mut text = if list.readiness_note.is_none() {
            format!(
                "{} workflow(s), {ready} ready to run on ComfyUI:",
                list.workflows.len()
            )
        } else {
            format!("{} workflow(s):", list.workflows.len())
        };
        for w in &list.workflows {
            let names: Vec<&str> = w.params.iter().map(|p| p.name.as_str()).collect();
            // Descriptions are sentences; one full stop between them is enough.
            let description = w.description.trim_end().trim_end_matches('.');
            text.push_str(&format!(
                "\n- {} ({}): {description}. Parameters: {}",
                w.name,
                w.source,
                names.join(", ")
            ));
            if let Some(why) = &w.cannot_run {
                text.push_str(&format!("\n  CANNOT RUN now: {why}"));
            }
        }
        if let Some(note) = &list.readiness_note {
            text.push_str(&format!("\nNote: {note}"));
        }
        for p in &list.problems {
            text.push_str(&format!("\nNot loaded: {p}"));
        }
        structured(text, &list)
    }
}

/// Keys of generate_image that a workflow tool passes through as they are; everything else
/// becomes a workflow parameter.
const STANDARD: &[&str] = &[
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "guidance",
    "count",
    "output_dir",
    "filename",
    "format",
    "preview",
    "wait_seconds",
    "idempotency_key",
    "model",
];

/// The tool name of a workflow: `workflow_` + its name with anything odd made `_`.
pub fn tool_name(workflow: &str) -> String {
    let clean: String = workflow
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("workflow_{clean}")
}

/// Turns a workflow tool's arguments into generate_image's.
fn as_generate(workflow: &str, args: Map<String, Value>) -> Result<GenerateImageParams, String> {
    let mut out = Map::new();
    let mut params = Map::new();
    let (mut width, mut height) = (None, None);
    for (k, v) in args {
        match k.as_str() {
            "width" => width = v.as_u64(),
            "height" => height = v.as_u64(),
            "size" => {
                out.insert(k, v);
            }
            key if STANDARD.contains(&key) => {
                out.insert(k, v);
            }
            _ => {
                params.insert(k, v);
            }
        }
    }
    if width.is_some() || height.is_some() {
        out.insert(
            "size".into(),
            Value::String(format!(
                "{}x{}",
                width.unwrap_or(1024),
                height.unwrap_or(1024)
            )),
        );
    }
    out.insert("backend".into(), Value::String("comfyui".into()));
    out.insert("workflow".into(), Value::String(workflow.to_string()));
    out.insert("params".into(), Value::Object(params));
    serde_json::from_value(Value::Object(out)).map_err(|e| e.to_string())
}

/// One tool per workflow, with the workflow's own schema (comfyui.workflow_tools).
pub fn workflow_routes(library: &Arc<Library>) -> Vec<ToolRoute<EaselServer>> {
    library
        .list()
        .into_iter()
        .map(|w| {
            let mut schema = workflow_schema(&w);
            let props = schema
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(props) = props.as_object_mut() {
                for (k, d) in [
                    ("output_dir", "Folder for the files, relative to the output root."),
                    ("filename", "File name without folder; never overwrites."),
                    ("wait_seconds", "Seconds to wait, 0-600 (default 45); then a job_id for get_job."),
                ] {
                    props.entry(k).or_insert_with(|| serde_json::json!({"type": if k == "wait_seconds" {"integer"} else {"string"}, "description": d}));
                }
            }
            let name = w.name.clone();
            let tool = Tool::new(
                tool_name(&name),
                format!("Run the ComfyUI workflow {name}: {}", w.description),
                Arc::new(schema),
            )
            .with_icons(icons::icon(icons::WORKFLOWS));
            ToolRoute::new_dyn(tool, move |ctx: ToolCallContext<'_, EaselServer>| {
                let name = name.clone();
                Box::pin(async move {
                    let args = ctx.arguments.clone().unwrap_or_default();
                    let result = match as_generate(&name, args) {
                        Ok(p) => ctx.service.generate(p.into(), ctx.request_context).await,
                        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!("invalid arguments: {e}"))]),
                    };
                    Ok(result.into())
                })
            })
        })
        .collect()
}
