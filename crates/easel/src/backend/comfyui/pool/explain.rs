//! Why no server could take a job, worded so the user knows which server lacks what, which
//! are down since when, and what to do.

use std::collections::BTreeMap;

use super::capabilities::{Capabilities, Lack};
use super::health::Health;
use super::server::Server;
use crate::backend::{BackendError, ErrorKind};

/// `gpu-a, gpu-c`
fn list(names: &[&str]) -> String {
    names.join(", ")
}

/// No server that answers has everything the workflow needs. `lacking` holds each checked
/// server's lacks (empty for a server that has everything but is down); `down` the servers
/// that do not answer.
pub fn cannot_run(
    pool: &str,
    checked: &[(String, Vec<Lack>)],
    down: &[(String, Health)],
) -> BackendError {
    // For each missing thing: which servers have it and which do not.
    let mut by_lack: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (_, lacks) in checked {
        for lack in lacks {
            by_lack.entry(lack.describe()).or_default();
        }
    }
    let mut lines = Vec::new();
    for (what, missing_on) in by_lack.iter_mut() {
        let mut has: Vec<&str> = Vec::new();
        for (name, lacks) in checked {
            if lacks.iter().any(|l| &l.describe() == what) {
                missing_on.push(name);
            } else {
                has.push(name);
            }
        }
        lines.push(if has.is_empty() {
            format!(
                "{what} is on no server of pool {pool} (not on {})",
                list(missing_on)
            )
        } else {
            format!(
                "{what} is on {} but not on {}",
                list(&has),
                list(missing_on)
            )
        });
    }
    for (name, health) in down {
        lines.push(format!("server {name} is {}", health.describe()));
    }
    let message = format!(
        "no ComfyUI server in pool {pool} can run this workflow now:\n- {}\nPut the missing model files into that folder of a server's ComfyUI (models/checkpoints, models/loras, …) or install the missing custom nodes, then restart ComfyUI there (easel looks again before refusing); or use another workflow or model. `easel doctor` and the backends tool list what each server has.",
        lines.join("\n- ")
    );
    let kind = if by_lack.is_empty() {
        ErrorKind::Unreachable
    } else {
        ErrorKind::Rejected
    };
    BackendError::new(kind, message).with_details(serde_json::json!({
        "pool": pool,
        "servers": checked.iter().map(|(name, lacks)| serde_json::json!({
            "server": name,
            "lacks": lacks.iter().map(Lack::describe).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "down": down.iter().map(|(name, _)| name).collect::<Vec<_>>(),
    }))
}

/// The one configured server lacks what the workflow needs: each missing file with the
/// files that server offers instead (never an invitation to pick from an empty list), and
/// where the file goes.
pub fn server_lacks(server: &Server, lacks: &[Lack], caps: &Capabilities) -> BackendError {
    let lines: Vec<String> = lacks
        .iter()
        .map(|lack| match lack {
            Lack::NodeType(class) => format!(
                "node {class} is not installed (a custom node): install the custom node that provides it (e.g. with ComfyUI-Manager) and restart ComfyUI"
            ),
            Lack::Model(m) => {
                let kind = super::capabilities::model_kind(&m.input);
                let folder = super::capabilities::model_folder(&m.input);
                let offered = caps.options(&m.class_type, &m.input).unwrap_or_default();
                let instead = if offered.is_empty() {
                    format!("the server has no {kind} files at all")
                } else {
                    format!(
                        "the server has {}; name one of them with the model parameter",
                        offered.join(", ")
                    )
                };
                format!(
                    "{kind} {:?} (node {} {}.{}) is not on the server: {instead}, or put {:?} into ComfyUI's {folder} folder and restart ComfyUI",
                    m.file, m.node_id, m.class_type, m.input, m.file
                )
            }
        })
        .collect();
    let who = if server.name == crate::config::DEFAULT_SERVER {
        format!("ComfyUI at {}", server.url)
    } else {
        format!("ComfyUI server {} at {}", server.name, server.url)
    };
    BackendError::new(
        ErrorKind::Rejected,
        format!(
            "{who} cannot run this workflow; nothing was sent:\n- {}",
            lines.join("\n- ")
        ),
    )
    .with_details(serde_json::json!({
        "server": server.name,
        "lacks": lacks.iter().map(Lack::describe).collect::<Vec<_>>(),
    }))
}

/// Every server of the pool is down.
pub fn all_down(pool: &str, down: &[(String, Health)]) -> BackendError {
    let lines: Vec<String> = down
        .iter()
        .map(|(name, h)| format!("{name} is {}", h.describe()))
        .collect();
    BackendError::new(
        ErrorKind::Unreachable,
        format!(
            "every ComfyUI server in pool {pool} is down:\n- {}\nStart them, or correct their url in [[comfyui.servers]]; easel checks them again every few seconds and sends jobs to each as soon as it answers.",
            lines.join("\n- ")
        ),
    )
}

/// The job was offered to every server that could take it and none accepted it.
pub fn none_accepted(pool: &str, failures: &[(String, BackendError)]) -> BackendError {
    let lines: Vec<String> = failures
        .iter()
        .map(|(name, e)| format!("{name}: {}", super::super::errors::reason(e)))
        .collect();
    BackendError::new(
        ErrorKind::Unreachable,
        format!(
            "no ComfyUI server in pool {pool} accepted the job (each was tried once; the job was not queued anywhere):\n- {}",
            lines.join("\n- ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::ModelRef;

    fn ckpt(file: &str) -> Lack {
        Lack::Model(ModelRef {
            node_id: "30".into(),
            class_type: "CheckpointLoaderSimple".into(),
            input: "ckpt_name".into(),
            file: file.into(),
        })
    }

    #[test]
    fn names_the_servers_with_and_without_the_file() {
        let checked = vec![
            ("gpu-a".to_string(), vec![]),
            ("gpu-b".to_string(), vec![ckpt("flux1-dev.safetensors")]),
        ];
        let down = vec![(
            "gpu-a".to_string(),
            Health::Down {
                since_ms: 0,
                reason: "connection refused".into(),
            },
        )];
        let e = cannot_run("studio", &checked, &down);
        assert!(
            e.message
                .contains("checkpoint flux1-dev.safetensors is on gpu-a but not on gpu-b"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("server gpu-a is down since 1970-01-01T00:00:00Z: connection refused"),
            "{}",
            e.message
        );
        assert_eq!(e.kind, ErrorKind::Rejected);
    }

    #[test]
    fn a_file_no_server_has_is_said_so() {
        let checked = vec![
            ("gpu-a".to_string(), vec![ckpt("x.safetensors")]),
            ("gpu-b".to_string(), vec![ckpt("x.safetensors")]),
        ];
        let e = cannot_run("comfyui", &checked, &[]);
        assert!(
            e.message.contains(
                "checkpoint x.safetensors is on no server of pool comfyui (not on gpu-a, gpu-b)"
            ),
            "{}",
            e.message
        );
    }
}
