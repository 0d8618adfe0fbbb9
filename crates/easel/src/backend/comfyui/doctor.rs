//! What `easel doctor` and the `backends` tool report about a ComfyUI server: reachable,
//! version, queue, and whether each workflow's node types and model files exist there.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::ComfyUi;

/// A workflow's fit with the server.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowCheck {
    pub name: String,
    pub ready: bool,
    /// Node types the workflow uses that the server lacks (missing custom nodes).
    pub missing_nodes: Vec<String>,
    /// Model files the workflow names that the server lacks, with what it has instead.
    pub missing_models: Vec<MissingModel>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MissingModel {
    pub node_id: String,
    pub input: String,
    pub file: String,
    pub available: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServerReport {
    pub url: String,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_remaining: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub workflows: Vec<WorkflowCheck>,
    /// Workflow files that could not be loaded, with the reason.
    pub workflow_problems: Vec<String>,
}

/// The options a combo input offers in `/object_info` (old `[[...]]` and new `COMBO` forms).
fn combo_options(object_info: &Value, class: &str, input: &str) -> Option<Vec<String>> {
    let spec = object_info.get(class)?.get("input").and_then(|i| {
        i.get("required")
            .and_then(|r| r.get(input))
            .or_else(|| i.get("optional").and_then(|o| o.get(input)))
    })?;
    let first = spec.get(0)?;
    let list = match first {
        Value::Array(items) => items.clone(),
        Value::String(s) if s == "COMBO" => spec.get(1)?.get("options")?.as_array()?.clone(),
        _ => return None,
    };
    Some(
        list.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
    )
}

pub async fn check(comfy: &ComfyUi) -> ServerReport {
    let library = comfy.library();
    let workflow_problems = library
        .problems()
        .into_iter()
        .map(|p| format!("{}: {}", p.path.display(), p.message))
        .collect();
    let mut report = ServerReport {
        url: comfy.api().base().to_string(),
        reachable: false,
        version: None,
        queue_remaining: None,
        error: None,
        workflows: Vec::new(),
        workflow_problems,
    };
    let stats = match comfy.api().system_stats().await {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.reachable = true;
    report.version = stats
        .pointer("/system/comfyui_version")
        .and_then(Value::as_str)
        .map(str::to_string);
    report.queue_remaining = comfy.api().queue_remaining().await.ok();
    let info = match comfy.api().object_info().await {
        Ok(i) => i,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let known: BTreeSet<&str> = info
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for workflow in library.list() {
        let req = workflow.requirements();
        let missing_nodes: Vec<String> = req
            .node_classes
            .iter()
            .filter(|c| !known.contains(c.as_str()))
            .cloned()
            .collect();
        let missing_models: Vec<MissingModel> = req
            .models
            .iter()
            .filter_map(|m| {
                let available = combo_options(&info, &m.class_type, &m.input)?;
                (!available.contains(&m.file)).then(|| MissingModel {
                    node_id: m.node_id.clone(),
                    input: m.input.clone(),
                    file: m.file.clone(),
                    available,
                })
            })
            .collect();
        report.workflows.push(WorkflowCheck {
            name: workflow.name.clone(),
            ready: missing_nodes.is_empty() && missing_models.is_empty(),
            missing_nodes,
            missing_models,
        });
    }
    report
}
