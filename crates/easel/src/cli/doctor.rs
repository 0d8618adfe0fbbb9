//! `easel doctor` and `easel workflows`: what easel can reach and run.

use std::process::ExitCode;

use serde_json::Value;

use crate::app::Storage;
use crate::config::Config;
use crate::service::workflow_list;

pub async fn doctor(config: &Config) -> anyhow::Result<ExitCode> {
    let app = crate::app::build(config, Storage::Ephemeral)?;
    println!("output root: {}", app.jobs.outputs().path().display());
    println!("data dir:    {}", config.data_dir.display());
    let mut all_ready = true;
    // A shared store is a dependency like a backend: say whether it answers. (SQLite in
    // the data dir is left alone: looking would create it.)
    if let Some(url) = &config.jobs.database_url {
        use secrecy::ExposeSecret;
        let url = url.expose_secret().to_string();
        let opened = tokio::task::spawn_blocking(move || {
            crate::jobs::PgStore::open(&url).and_then(|s| {
                use crate::jobs::JobStore;
                s.ping().map(|()| s.shown_url().to_string())
            })
        })
        .await?;
        match opened {
            Ok(shown) => println!("ok job store: {shown} (PostgreSQL) answers; schema up to date"),
            Err(e) => {
                all_ready = false;
                println!("!! job store: {e}");
            }
        }
    }
    for backend in app.jobs.backends() {
        let status = backend.status().await;
        all_ready &= status.ready;
        let mark = if status.ready { "ok " } else { "!! " };
        println!("{mark}{}: {}", status.name, status.summary);
        let servers = status
            .details
            .get("servers")
            .and_then(|s| s.as_array())
            .cloned()
            .unwrap_or_default();
        if servers.len() > 1 {
            if status.name == "comfyui" {
                for server in &servers {
                    print_server(server);
                }
            } else {
                let names: Vec<&str> = servers
                    .iter()
                    .filter_map(|s| s.get("name").and_then(|n| n.as_str()))
                    .collect();
                println!("     servers: {}", names.join(", "));
            }
        }
        if let Some(workflows) = status.details.get("workflows").and_then(|w| w.as_array()) {
            for w in workflows {
                print_workflow(w);
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

/// One server of a pool: state, load, capabilities.
fn print_server(server: &Value) {
    let s = |k: &str| server.get(k).and_then(|v| v.as_str()).unwrap_or("?");
    let n = |k: &str| server.get(k).and_then(|v| v.as_f64());
    let health = &server["health"];
    let state = match health.get("state").and_then(|v| v.as_str()) {
        Some("down") => format!(
            "DOWN since {}: {}",
            health
                .get("since_ms")
                .and_then(|v| v.as_u64())
                .map_or("?".into(), crate::clock::format_utc),
            health.get("reason").and_then(|v| v.as_str()).unwrap_or("?")
        ),
        Some(other) => other.to_string(),
        None => "?".into(),
    };
    println!("     server {} ({}): {state}", s("name"), s("url"));
    let pools: Vec<&str> = server["pools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .collect();
    println!(
        "       queue {}, easel in flight {}, weight {}, mean job {}, pools {}",
        n("queue_remaining").map_or("?".into(), |q| q.to_string()),
        n("in_flight").unwrap_or(0.0),
        n("weight").unwrap_or(1.0),
        n("mean_job_secs").map_or("not measured".into(), |m| format!("{m:.2} s")),
        if pools.is_empty() {
            "(none)".to_string()
        } else {
            pools.join(", ")
        }
    );
    if let Some(c) = server.get("capabilities").filter(|c| c.is_object()) {
        let count = |k: &str| c.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let ready: Vec<&str> = server["workflows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| w.get("ready").and_then(|r| r.as_bool()).unwrap_or(false))
            .filter_map(|w| w.get("name").and_then(|n| n.as_str()))
            .collect();
        println!(
            "       {} node types, {} checkpoints, {} LoRAs; runs {}",
            count("node_types"),
            count("checkpoints"),
            count("loras"),
            if ready.is_empty() {
                "no workflow".to_string()
            } else {
                ready.join(", ")
            }
        );
    }
}

/// A workflow's fit, with what is missing.
fn print_workflow(w: &Value) {
    let name = w.get("name").and_then(|n| n.as_str()).unwrap_or("?");
    let on: Vec<&str> = w
        .get("servers")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect();
    if w.get("ready").and_then(|r| r.as_bool()).unwrap_or(false) {
        if on.is_empty() || w.get("servers").is_none() {
            println!("     workflow {name}: ready");
        } else {
            println!("     workflow {name}: ready on {}", on.join(", "));
        }
        return;
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
