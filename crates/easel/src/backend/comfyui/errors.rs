//! ComfyUI failures worded for an agent: which node, which class, which input, what the
//! server said, and what to do about it.

use reqwest::StatusCode;
use serde_json::{Map, Value};

use super::events::ExecutionError;
use crate::backend::{BackendError, ErrorKind};
use crate::config::DEFAULT_SERVER;

/// `server` is the configured name; the one server of `comfyui.url` is [`DEFAULT_SERVER`].
pub fn unreachable(server: &str, base: &str, reason: &str) -> BackendError {
    let message = if server == DEFAULT_SERVER {
        format!(
            "cannot reach ComfyUI at {base}: {reason}. Start ComfyUI (it listens on 127.0.0.1:8188 by default), or set COMFYUI_URL / comfyui.url to where it runs."
        )
    } else {
        format!(
            "cannot reach ComfyUI server {server} at {base}: {reason}. Start ComfyUI there, or correct its url in [[comfyui.servers]]."
        )
    };
    BackendError::new(ErrorKind::Unreachable, message)
        .with_details(serde_json::json!({"server": server, "reason": reason}))
}

/// The short cause of a server failure ("connection failed (…)", "HTTP 502 on /prompt"),
/// for health reports that name the server and the fix elsewhere.
pub fn reason(error: &BackendError) -> String {
    error
        .details
        .as_ref()
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str)
        .map_or_else(|| error.message.clone(), str::to_string)
}

/// The server running a job stopped answering (or forgot the job): the work there is lost.
/// `details.lost` lets the job layer resubmit when `comfyui.resubmit_lost` is on.
pub fn lost(server: &str, base: &str, prompt_id: &str, what: &str) -> BackendError {
    BackendError::new(
        ErrorKind::Unreachable,
        format!(
            "ComfyUI server {server} ({base}) {what}. Prompt {prompt_id} and the work done on it there are lost; new jobs go to the other servers until {server} answers again. Generate again, or set comfyui.resubmit_lost = true (EASEL_COMFYUI_RESUBMIT_LOST=true) to have easel resubmit such jobs to another server by itself."
        ),
    )
    .with_details(serde_json::json!({"server": server, "lost": true, "prompt_id": prompt_id}))
}

/// Whether `error` says a job's server lost it.
pub fn is_lost(error: &BackendError) -> bool {
    error
        .details
        .as_ref()
        .and_then(|d| d.get("lost"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Where the user fixes a server's settings, for messages.
fn where_set(server: &str) -> String {
    if server == DEFAULT_SERVER {
        "comfyui".to_string()
    } else {
        format!("the [[comfyui.servers]] entry {server:?}")
    }
}

pub fn http_status(server: &str, base: &str, path: &str, status: StatusCode) -> BackendError {
    let hint = match status.as_u16() {
        401 | 403 => format!(
            " If ComfyUI sits behind a proxy or is hosted, set its credentials in the headers of {} (e.g. Authorization or X-API-Key).",
            where_set(server)
        ),
        404 => format!(
            " Check that the url of {} points at ComfyUI itself.",
            where_set(server)
        ),
        _ => String::new(),
    };
    let who = if server == DEFAULT_SERVER {
        format!("ComfyUI at {base}")
    } else {
        format!("ComfyUI server {server} at {base}")
    };
    BackendError::new(
        ErrorKind::Unreachable,
        format!("{who} answered {path} with HTTP {status}.{hint}"),
    )
    .with_details(
        serde_json::json!({"server": server, "reason": format!("HTTP {status} on {path}")}),
    )
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One readable line per input error: node id, class, input, ComfyUI's message, and a fix
/// for the common cases.
pub fn node_error_lines(node_errors: &Map<String, Value>) -> Vec<String> {
    let mut lines = Vec::new();
    for (node, entry) in node_errors {
        let class = s(entry, "class_type");
        for err in entry
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let input = err
                .pointer("/extra_info/input_name")
                .and_then(Value::as_str)
                .unwrap_or_else(|| s(err, "details"));
            let mut line = format!("node {node} ({class}) input {input}: {}", s(err, "message"));
            let details = s(err, "details");
            if !details.is_empty() && details != input {
                line.push_str(&format!(" ({details})"));
            }
            if s(err, "type") == "value_not_in_list" {
                line.push_str(&missing_file_hint(input, details));
            }
            lines.push(line);
        }
    }
    lines
}

/// For a model file the server does not have: where such files go, and the files listed
/// only when ComfyUI listed some (`… not in []` offers nothing to choose from).
fn missing_file_hint(input: &str, details: &str) -> String {
    if !super::pool::capabilities::MODEL_INPUTS_WITH_FOLDERS.contains(&input) {
        return String::new();
    }
    let folder = super::pool::capabilities::model_folder(input);
    if details.trim_end().ends_with("not in []") {
        format!(
            ". This server has no such files at all: put the file into ComfyUI's {folder} folder and restart ComfyUI"
        )
    } else {
        format!(
            ". Use one of the files listed (e.g. with the model parameter), or put the file into ComfyUI's {folder} folder and restart ComfyUI"
        )
    }
}

/// A 400 from `POST /prompt`: the error and every node error, raw in `details`.
pub fn rejected(body: &Value) -> BackendError {
    let err = body.get("error").cloned().unwrap_or(Value::Null);
    let kind = s(&err, "type");
    let mut message = match kind {
        "missing_node_type" => {
            let class = err
                .pointer("/extra_info/class_type")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let node = err
                .pointer("/extra_info/node_id")
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!(
                "ComfyUI refused the workflow: node {node} uses node type {class:?}, which is not installed on this ComfyUI server (a custom node is missing). Install the custom node that provides {class} (for example with ComfyUI-Manager) and restart ComfyUI, or use another workflow."
            )
        }
        "prompt_no_outputs" => {
            "ComfyUI refused the workflow: it has no output node (add a SaveImage node)."
                .to_string()
        }
        _ => format!("ComfyUI refused the workflow: {}", s(&err, "message")),
    };
    let lines = body
        .get("node_errors")
        .and_then(Value::as_object)
        .map(node_error_lines)
        .unwrap_or_default();
    for line in &lines {
        message.push_str("\n- ");
        message.push_str(line);
    }
    BackendError::new(ErrorKind::Rejected, message).with_details(serde_json::json!({
        "error": err,
        "node_errors": body.get("node_errors").cloned().unwrap_or(Value::Null),
    }))
}

/// `execution_error`: the node, its class, the exception and the tail of the traceback.
pub fn execution_failed(e: &ExecutionError) -> BackendError {
    let tail: Vec<&str> = e
        .traceback
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|l| l.trim_end())
        .collect();
    let message = format!(
        "ComfyUI failed while running node {} ({}): {}: {}\nTraceback (last lines):\n{}",
        e.node_id.as_deref().unwrap_or("?"),
        e.node_type.as_deref().unwrap_or("?"),
        e.exception_type,
        e.exception_message.trim(),
        tail.join("\n")
    );
    BackendError::new(ErrorKind::Failed, message).with_details(serde_json::json!({
        "node_id": e.node_id, "node_type": e.node_type, "exception_type": e.exception_type,
        "exception_message": e.exception_message, "traceback": e.traceback,
    }))
}

pub fn interrupted(node_id: Option<&str>, node_type: Option<&str>) -> BackendError {
    BackendError::new(
        ErrorKind::Cancelled,
        format!(
            "ComfyUI interrupted the job at node {} ({}): someone pressed Cancel in ComfyUI or called /interrupt. Generate again to retry.",
            node_id.unwrap_or("?"),
            node_type.unwrap_or("?")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_node_type_names_the_missing_custom_node() {
        let body = json!({"error": {"type": "missing_node_type", "message": "Node 'NoSuchNodeXYZ' not found. The custom node may not be installed.", "details": "Node ID '#5'", "extra_info": {"node_id": "5", "class_type": "NoSuchNodeXYZ", "node_title": "NoSuchNodeXYZ"}}, "node_errors": {}});
        let e = rejected(&body);
        assert!(
            e.message.contains("node 5")
                && e.message.contains("NoSuchNodeXYZ")
                && e.message.contains("custom node"),
            "{}",
            e.message
        );
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert!(e.details.is_some());
    }

    #[test]
    fn missing_checkpoint_lists_what_the_server_has() {
        let body = json!({"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {}},
            "node_errors": {"30": {"errors": [{"type": "value_not_in_list", "message": "Value not in list", "details": "ckpt_name: 'x.safetensors' not in ['a.safetensors', 'b.safetensors']", "extra_info": {"input_name": "ckpt_name"}}], "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"}}});
        let e = rejected(&body);
        assert!(
            e.message
                .contains("node 30 (CheckpointLoaderSimple) input ckpt_name"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("'a.safetensors', 'b.safetensors'")
                && e.message.contains("models/checkpoints"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_empty_list_is_not_offered_to_choose_from() {
        let body = json!({"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {}},
            "node_errors": {"30": {"errors": [{"type": "value_not_in_list", "message": "Value not in list", "details": "unet_name: 'x.safetensors' not in []", "extra_info": {"input_name": "unet_name"}}], "dependent_outputs": ["9"], "class_type": "UNETLoader"}}});
        let e = rejected(&body);
        assert!(!e.message.contains("Use one of the files"), "{}", e.message);
        assert!(
            e.message.contains("no such files at all")
                && e.message.contains("models/diffusion_models"),
            "{}",
            e.message
        );
    }
}
