//! What `easel doctor` and the `backends` tool report about ComfyUI: per server its state
//! (up or down, since when, why), queue, easel's jobs in flight, weight, measured job time,
//! capabilities and which workflows it can run; and for the backend, whether each workflow
//! can run somewhere. Every server is checked live (which also updates its health).

use futures::future::join_all;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ComfyUi;
use super::pool::{Capabilities, Health, Lack, Server};
use crate::backend::BackendStatus;
use crate::workflows::Workflow;

/// A workflow's fit with a server (or, for the backend, with its best server).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct WorkflowCheck {
    pub name: String,
    pub ready: bool,
    /// Node types the workflow uses that the server lacks (missing custom nodes).
    pub missing_nodes: Vec<String>,
    /// Model files the workflow names that the server lacks, with what it has instead.
    pub missing_models: Vec<MissingModel>,
    /// For the backend: the servers that can run it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
}

impl WorkflowCheck {
    /// Why the workflow cannot run, in one line for the model reading a tool's text:
    /// each missing node type and model file, with the files the servers have instead.
    pub fn why_not(&self) -> Option<String> {
        if self.ready {
            return None;
        }
        let mut reasons: Vec<String> = self
            .missing_nodes
            .iter()
            .map(|n| format!("node type {n} is not installed (a custom node)"))
            .collect();
        for m in &self.missing_models {
            let kind = super::pool::capabilities::model_kind(&m.input);
            reasons.push(if m.available.is_empty() {
                format!(
                    "{kind} {} is missing (node {} {}) and the server has no {kind} files at all",
                    m.file, m.node_id, m.input
                )
            } else {
                format!(
                    "{kind} {} is missing (node {} {}); the server has {}",
                    m.file,
                    m.node_id,
                    m.input,
                    m.available.join(", ")
                )
            });
        }
        if reasons.is_empty() {
            reasons.push("no server that answers could be checked".into());
        }
        Some(reasons.join("; "))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissingModel {
    pub node_id: String,
    pub input: String,
    pub file: String,
    pub available: Vec<String>,
}

/// What a server can run, in numbers.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CapabilityCounts {
    pub node_types: usize,
    pub checkpoints: usize,
    pub loras: usize,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ServerReport {
    pub name: String,
    pub url: String,
    /// Up, down (since when, why) or not checked yet, as the pool sees it after this check.
    pub health: Health,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Jobs queued or running there (all clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_remaining: Option<u64>,
    /// easel's jobs on this server.
    pub in_flight: usize,
    pub weight: f64,
    /// Measured seconds per job (moving average of easel's jobs there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_job_secs: Option<f64>,
    pub pools: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilityCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub workflows: Vec<WorkflowCheck>,
}

/// The backend's report. With one server, its url, version, queue and error are repeated
/// at the top, as before pools.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PoolReport {
    pub pool: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Whether at least one server answers.
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_remaining: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub servers: Vec<ServerReport>,
    /// Each workflow: ready when at least one server can run it.
    pub workflows: Vec<WorkflowCheck>,
    /// Workflow files that could not be loaded, with the reason.
    pub workflow_problems: Vec<String>,
}

fn fit(workflow: &Workflow, caps: &Capabilities) -> WorkflowCheck {
    let lacks = caps.lacks(&workflow.requirements());
    let mut check = WorkflowCheck {
        name: workflow.name.clone(),
        ready: lacks.is_empty(),
        missing_nodes: Vec::new(),
        missing_models: Vec::new(),
        servers: None,
    };
    for lack in lacks {
        match lack {
            Lack::NodeType(class) => check.missing_nodes.push(class),
            Lack::Model(m) => check.missing_models.push(MissingModel {
                available: caps
                    .options(&m.class_type, &m.input)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
                node_id: m.node_id,
                input: m.input,
                file: m.file,
            }),
        }
    }
    check
}

/// Checks one server now: reachable, version, queue, `/object_info`.
async fn check_server(
    server: &Server,
    workflows: &[std::sync::Arc<Workflow>],
    fresh: std::time::Duration,
) -> ServerReport {
    let mut report = ServerReport {
        name: server.name.clone(),
        url: server.url.clone(),
        health: Health::Unknown,
        reachable: false,
        version: None,
        queue_remaining: None,
        in_flight: 0,
        weight: server.weight,
        mean_job_secs: None,
        pools: server.pools.clone(),
        capabilities: None,
        error: None,
        workflows: Vec::new(),
    };
    match server.api.system_stats().await {
        Ok(stats) => {
            report.reachable = true;
            report.version = stats
                .pointer("/system/comfyui_version")
                .and_then(Value::as_str)
                .map(str::to_string);
            let queue = server.api.queue_remaining().await.ok();
            if server.mark_up(queue) {
                tracing::info!(server = %server.name, "ComfyUI server answers again; back in the pool");
            }
            match server.refresh_capabilities().await {
                Ok(caps) => {
                    report.capabilities = Some(CapabilityCounts {
                        node_types: caps.node_classes.len(),
                        checkpoints: caps.checkpoints(),
                        loras: caps.loras(),
                    });
                    report.workflows = workflows.iter().map(|w| fit(w, &caps)).collect();
                }
                Err(e) => report.error = Some(e.message),
            }
        }
        Err(e) => {
            server.report_failure(&e);
            report.error = Some(e.message);
        }
    }
    let load = server.load_view(fresh);
    report.health = server.health();
    report.queue_remaining = load.queue_remaining;
    report.in_flight = load.in_flight;
    report.mean_job_secs = load.mean_secs.map(|s| (s * 1000.0).round() / 1000.0);
    report
}

/// One entry per workflow: ready if any server can run it, with the servers that can; for
/// a workflow no server can run, what the servers lack (each model file once).
fn combine(workflows: &[std::sync::Arc<Workflow>], servers: &[ServerReport]) -> Vec<WorkflowCheck> {
    workflows
        .iter()
        .map(|w| {
            let checks: Vec<&WorkflowCheck> = servers
                .iter()
                .filter_map(|s| s.workflows.iter().find(|c| c.name == w.name))
                .collect();
            let able: Vec<String> = servers
                .iter()
                .filter(|s| s.workflows.iter().any(|c| c.name == w.name && c.ready))
                .map(|s| s.name.clone())
                .collect();
            let mut combined = WorkflowCheck {
                name: w.name.clone(),
                ready: !able.is_empty(),
                missing_nodes: Vec::new(),
                missing_models: Vec::new(),
                // With one server, "ready on default" says nothing more than "ready".
                servers: (servers.len() > 1).then_some(able),
            };
            if !combined.ready {
                for c in checks {
                    for n in &c.missing_nodes {
                        if !combined.missing_nodes.contains(n) {
                            combined.missing_nodes.push(n.clone());
                        }
                    }
                    for m in &c.missing_models {
                        match combined.missing_models.iter_mut().find(|x| {
                            x.node_id == m.node_id && x.input == m.input && x.file == m.file
                        }) {
                            Some(x) => {
                                for a in &m.available {
                                    if !x.available.contains(a) {
                                        x.available.push(a.clone());
                                    }
                                }
                            }
                            None => combined.missing_models.push(m.clone()),
                        }
                    }
                }
            }
            combined
        })
        .collect()
}

pub async fn check(comfy: &ComfyUi) -> PoolReport {
    let library = comfy.library();
    let workflows = library.list();
    let group = comfy.group();
    let fresh = comfy.pool().fresh();
    let servers: Vec<ServerReport> = join_all(
        group
            .members
            .iter()
            .map(|s| check_server(s, &workflows, fresh)),
    )
    .await;
    let single = (servers.len() == 1).then(|| servers[0].clone());
    PoolReport {
        pool: group.name.clone(),
        url: single.as_ref().map(|s| s.url.clone()),
        reachable: servers.iter().any(|s| s.reachable),
        version: single.as_ref().and_then(|s| s.version.clone()),
        queue_remaining: single.as_ref().and_then(|s| s.queue_remaining),
        error: single.as_ref().and_then(|s| s.error.clone()),
        workflows: combine(&workflows, &servers),
        servers,
        workflow_problems: library
            .problems()
            .into_iter()
            .map(|p| format!("{}: {}", p.path.display(), p.message))
            .collect(),
    }
}

pub async fn status(comfy: &ComfyUi) -> BackendStatus {
    let report = check(comfy).await;
    let ready_workflows = report.workflows.iter().filter(|w| w.ready).count();
    let summary = match report.servers.as_slice() {
        [one] => match &one.error {
            Some(e) => e.clone(),
            None => format!(
                "ComfyUI {} at {}, {} in queue; {} of {} workflow(s) ready",
                one.version.as_deref().unwrap_or("?"),
                one.url,
                one.queue_remaining.unwrap_or(0),
                ready_workflows,
                report.workflows.len()
            ),
        },
        servers => {
            let up: Vec<&str> = servers
                .iter()
                .filter(|s| s.reachable)
                .map(|s| s.name.as_str())
                .collect();
            let down: Vec<&str> = servers
                .iter()
                .filter(|s| !s.reachable)
                .map(|s| s.name.as_str())
                .collect();
            format!(
                "{} ComfyUI servers, {} up{}; {} in queue, {} of easel's jobs in flight; {} of {} workflow(s) ready on at least one server",
                servers.len(),
                up.len(),
                if down.is_empty() {
                    String::new()
                } else {
                    format!(", down: {}", down.join(", "))
                },
                servers
                    .iter()
                    .filter_map(|s| s.queue_remaining)
                    .sum::<u64>(),
                servers.iter().map(|s| s.in_flight).sum::<usize>(),
                ready_workflows,
                report.workflows.len()
            )
        }
    };
    BackendStatus {
        name: report.pool.clone(),
        ready: report.reachable,
        summary,
        details: serde_json::to_value(&report).unwrap_or_default(),
    }
}
