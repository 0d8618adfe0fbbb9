//! ComfyUI's WebSocket messages (docs/contracts/comfyui.md §8), parsed into what tracking needs.

use serde::Deserialize;
use serde_json::Value;

/// One file a node produced, addressed as ComfyUI addresses it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct FileRef {
    pub filename: String,
    #[serde(default)]
    pub subfolder: String,
    #[serde(default = "output_type", rename = "type")]
    pub kind: String,
}

fn output_type() -> String {
    "output".to_string()
}

/// A message about one prompt, or about the whole server.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Queue length changed (sent to every socket).
    Status {
        queue_remaining: u64,
    },
    Started {
        prompt_id: String,
    },
    Cached {
        prompt_id: String,
        nodes: Vec<String>,
    },
    /// A node started; `None` is the final "done" signal.
    Executing {
        prompt_id: String,
        node: Option<String>,
    },
    Progress {
        prompt_id: Option<String>,
        node: Option<String>,
        value: f64,
        max: f64,
    },
    Executed {
        prompt_id: String,
        node: String,
        images: Vec<FileRef>,
    },
    Succeeded {
        prompt_id: String,
    },
    Failed {
        prompt_id: String,
        error: ExecutionError,
    },
    Interrupted {
        prompt_id: String,
        node_id: Option<String>,
        node_type: Option<String>,
    },
}

/// `execution_error` as sent by ComfyUI.
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
pub struct ExecutionError {
    #[serde(default)]
    pub node_id: Option<String>,
    #[serde(default)]
    pub node_type: Option<String>,
    #[serde(default)]
    pub exception_message: String,
    #[serde(default)]
    pub exception_type: String,
    #[serde(default)]
    pub traceback: Vec<String>,
}

impl Event {
    pub fn prompt_id(&self) -> Option<&str> {
        match self {
            Event::Status { .. } => None,
            Event::Progress { prompt_id, .. } => prompt_id.as_deref(),
            Event::Started { prompt_id }
            | Event::Cached { prompt_id, .. }
            | Event::Executing { prompt_id, .. }
            | Event::Executed { prompt_id, .. }
            | Event::Succeeded { prompt_id }
            | Event::Failed { prompt_id, .. }
            | Event::Interrupted { prompt_id, .. } => Some(prompt_id),
        }
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses a text frame; `None` for kinds easel does not use (`progress_state`, …).
pub fn parse(frame: &str) -> Option<Event> {
    let msg: Value = serde_json::from_str(frame).ok()?;
    let data = msg.get("data")?;
    let pid = || text(data, "prompt_id");
    Some(match msg.get("type")?.as_str()? {
        "status" => Event::Status {
            queue_remaining: data
                .pointer("/status/exec_info/queue_remaining")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        },
        "execution_start" => Event::Started { prompt_id: pid()? },
        "execution_cached" => Event::Cached {
            prompt_id: pid()?,
            nodes: data
                .get("nodes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        },
        "executing" => Event::Executing {
            prompt_id: pid()?,
            node: text(data, "node"),
        },
        "progress" => Event::Progress {
            prompt_id: pid(),
            node: text(data, "node"),
            value: data.get("value").and_then(Value::as_f64).unwrap_or(0.0),
            max: data.get("max").and_then(Value::as_f64).unwrap_or(0.0),
        },
        "executed" => Event::Executed {
            prompt_id: pid()?,
            node: text(data, "node").unwrap_or_default(),
            images: data
                .pointer("/output/images")
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
        },
        "execution_success" => Event::Succeeded { prompt_id: pid()? },
        "execution_error" => Event::Failed {
            prompt_id: pid()?,
            error: serde_json::from_value(data.clone()).unwrap_or_default(),
        },
        "execution_interrupted" => Event::Interrupted {
            prompt_id: pid()?,
            node_id: text(data, "node_id"),
            node_type: text(data, "node_type"),
        },
        _ => return None,
    })
}

/// What a binary frame is (§8.5): previews are progress, never the result.
#[derive(Debug, PartialEq, Eq)]
pub enum Binary {
    Preview { format: &'static str, bytes: usize },
    Text,
    Unknown(u32),
}

pub fn parse_binary(frame: &[u8]) -> Binary {
    let word = |at: usize| {
        frame
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    match word(0) {
        Some(1) => Binary::Preview {
            format: if word(4) == Some(2) { "png" } else { "jpeg" },
            bytes: frame.len().saturating_sub(8),
        },
        Some(4) => {
            let json_len = word(4).unwrap_or(0) as usize;
            Binary::Preview {
                format: "image",
                bytes: frame.len().saturating_sub(8 + json_len),
            }
        }
        Some(3) => Binary::Text,
        Some(other) => Binary::Unknown(other),
        None => Binary::Unknown(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_captured_shapes() {
        assert_eq!(
            parse(
                r#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":2}},"sid":"x"}}"#
            ),
            Some(Event::Status { queue_remaining: 2 })
        );
        assert_eq!(
            parse(r#"{"type":"executing","data":{"node":null,"prompt_id":"p"}}"#),
            Some(Event::Executing {
                prompt_id: "p".into(),
                node: None
            })
        );
        let Some(Event::Progress {
            value, max, node, ..
        }) =
            parse(r#"{"type":"progress","data":{"value":3,"max":20,"prompt_id":"p","node":"31"}}"#)
        else {
            panic!("progress")
        };
        assert_eq!((value, max, node.as_deref()), (3.0, 20.0, Some("31")));
        let Some(Event::Executed { images, .. }) = parse(
            r#"{"type":"executed","data":{"node":"9","output":{"images":[{"filename":"a.png","subfolder":"","type":"output"}]},"prompt_id":"p"}}"#,
        ) else {
            panic!("executed")
        };
        assert_eq!(images[0].filename, "a.png");
        let Some(Event::Failed { error, .. }) = parse(
            r#"{"type":"execution_error","data":{"prompt_id":"p","node_id":"3","node_type":"SaveImage","exception_message":"boom","exception_type":"RuntimeError","traceback":["a","b"]}}"#,
        ) else {
            panic!("error")
        };
        assert_eq!(error.node_type.as_deref(), Some("SaveImage"));
        assert_eq!(parse(r#"{"type":"progress_state","data":{}}"#), None);
    }

    #[test]
    fn binary_frames_are_previews_not_results() {
        let mut frame = vec![0, 0, 0, 1, 0, 0, 0, 2];
        frame.extend_from_slice(b"\x89PNG....");
        assert_eq!(
            parse_binary(&frame),
            Binary::Preview {
                format: "png",
                bytes: 8
            }
        );
        assert_eq!(parse_binary(&[0, 0, 0, 3, 0]), Binary::Text);
    }
}
