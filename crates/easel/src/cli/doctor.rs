//! `easel doctor` and `easel workflows`: what easel can reach and run.

use std::process::ExitCode;

use crate::app::Storage;
use crate::config::Config;
use crate::service::workflow_list;

pub async fn doctor(config: &Config) -> anyhow::Result<ExitCode> {
    let app = crate::app::build(config, Storage::Ephemeral)?;
    println!("output root: {}", app.jobs.outputs().path().display());
    println!("data dir:    {}", config.data_dir.display());
    let mut all_ready = true;
    for backend in app.jobs.backends() {
        let status = backend.status().await;
        all_ready &= status.ready;
        let mark = if status.ready { "ok " } else { "!! " };
        println!("{mark}{}: {}", status.name, status.summary);
        if let Some(workflows) = status.details.get("workflows").and_then(|w| w.as_array()) {
            for w in workflows {
                let name = w.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                if w.get("ready").and_then(|r| r.as_bool()).unwrap_or(false) {
                    println!("     workflow {name}: ready");
                    continue;
                }
                println!("     workflow {name}: NOT ready");
                for n in w
                    .get("missing_nodes")
                    .and_then(|m| m.as_array())
                    .into_iter()
                    .flatten()
                {
                    println!(
                        "       missing node type {} (install its custom node)",
                        n.as_str().unwrap_or("?")
                    );
                }
                for m in w
                    .get("missing_models")
                    .and_then(|m| m.as_array())
                    .into_iter()
                    .flatten()
                {
                    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
                    let available: Vec<String> = m
                        .get("available")
                        .and_then(|a| a.as_array())
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect();
                    println!(
                        "       node {} {} {} is missing; the server has: {}",
                        s("node_id"),
                        s("input"),
                        s("file"),
                        if available.is_empty() {
                            "(none)".into()
                        } else {
                            available.join(", ")
                        }
                    );
                }
            }
        }
        for p in status
            .details
            .get("workflow_problems")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
        {
            println!("     not loaded: {}", p.as_str().unwrap_or("?"));
        }
    }
    Ok(if all_ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn workflows(config: &Config) -> anyhow::Result<ExitCode> {
    let app = crate::app::build(config, Storage::Ephemeral)?;
    let list = workflow_list(&app.library);
    println!(
        "workflows folder: {}",
        config.comfyui.workflows_dir.display()
    );
    for w in &list.workflows {
        println!("{} ({}): {}", w.name, w.source, w.description);
        for p in &w.params {
            let kind = serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let default = p
                .default
                .as_ref()
                .map(|d| format!(" = {d}"))
                .unwrap_or_default();
            println!("    {} ({kind}){default}: {}", p.name, p.description);
        }
    }
    for p in &list.problems {
        println!("not loaded: {p}");
    }
    Ok(ExitCode::SUCCESS)
}
