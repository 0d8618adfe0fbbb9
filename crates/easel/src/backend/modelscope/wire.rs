//! ModelScope's JSON shapes (docs/contracts/modelscope.md §2-§5), read tolerantly where the
//! contract says real answers vary.

use serde::{Deserialize, Deserializer, Serialize};

use crate::request::{GenerateRequest, Loras};

/// Body of `POST v1/images/generations`. Unset optional fields are left out (§2.2).
#[derive(Debug, Serialize)]
pub struct SubmitBody<'a> {
    pub model: &'a str,
    pub prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    pub seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loras: Option<&'a Loras>,
    /// Edit models: the source URL, or several as an array (§8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<serde_json::Value>,
}

impl<'a> SubmitBody<'a> {
    pub fn new(req: &'a GenerateRequest, seed: u64) -> Self {
        SubmitBody {
            model: req
                .model
                .as_deref()
                .unwrap_or(super::DEFAULT_MODEL_FALLBACK),
            prompt: &req.prompt,
            negative_prompt: req.negative_prompt.as_deref().filter(|s| !s.is_empty()),
            // An edit's output follows its source; Qwen-Image-Edit models take no size.
            size: (!req.is_edit()).then(|| req.size.to_string()),
            seed,
            steps: req.steps,
            guidance: req.guidance,
            loras: req.loras.as_ref(),
            image_url: match req.sources.as_slice() {
                [] => None,
                [one] => one.url.clone().map(serde_json::Value::String),
                many => Some(serde_json::Value::Array(
                    many.iter()
                        .filter_map(|s| s.url.clone().map(serde_json::Value::String))
                        .collect(),
                )),
            },
        }
    }
}

/// `{"task_id": "5075521", "request_id": "…"}`; `task_id` may be a number (§2.5). A
/// `task_status` in this answer means "accepted" and is ignored.
#[derive(Debug, Deserialize)]
pub struct SubmitAnswer {
    #[serde(deserialize_with = "string_or_number")]
    pub task_id: String,
    #[serde(default)]
    pub request_id: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorsBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Any answer of `GET v1/tasks/{id}`, and the error envelope of every route.
#[derive(Debug, Default, Deserialize)]
pub struct TaskAnswer {
    #[serde(default)]
    pub task_status: Option<String>,
    #[serde(default)]
    pub output_images: Option<Vec<String>>,
    #[serde(default)]
    pub errors: Option<ErrorsBody>,
    /// Singular form used by the OpenAI-compatible routes of the same host.
    #[serde(default)]
    pub error: Option<ErrorsBody>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Where a task stands, folding the spellings the contract lists (§3.2).
#[derive(Debug, PartialEq, Eq)]
pub enum TaskState {
    Succeeded,
    Failed,
    Queued,
    Running(String),
    /// A status the contract does not list (nor any client has seen): maybe a new
    /// in-progress state, maybe a stuck task.
    Unknown(String),
}

impl TaskAnswer {
    pub fn state(&self) -> TaskState {
        match self
            .task_status
            .as_deref()
            .unwrap_or("")
            .to_ascii_uppercase()
            .as_str()
        {
            "SUCCEED" | "SUCCEEDED" | "SUCCESS" => TaskState::Succeeded,
            "FAILED" | "CANCELED" | "CANCELLED" | "ERROR" => TaskState::Failed,
            "PENDING" | "QUEUED" => TaskState::Queued,
            // Missing while in progress is what the service does between states.
            status @ ("PROCESSING" | "RUNNING" | "") => TaskState::Running(status.to_string()),
            _ => TaskState::Unknown(self.task_status.clone().unwrap_or_default()),
        }
    }

    /// The failure reason: `errors.message`, then the other places clients have seen it.
    pub fn reason(&self) -> Option<String> {
        self.errors
            .as_ref()
            .and_then(|e| e.message.clone())
            .or_else(|| self.message.clone())
            .or_else(|| self.error_message.clone())
            .or_else(|| self.error.as_ref().and_then(|e| e.message.clone()))
            .filter(|m| !m.trim().is_empty())
    }

    /// The request id, top-level or inside `errors` (§5.1).
    pub fn request_id(&self) -> Option<String> {
        self.request_id
            .clone()
            .or_else(|| self.errors.as_ref().and_then(|e| e.request_id.clone()))
            .or_else(|| self.error.as_ref().and_then(|e| e.request_id.clone()))
    }
}

/// The daily quota headers (§5.3), for messages about 429s.
#[derive(Debug, Default)]
pub struct Quota {
    pub user_remaining: Option<String>,
    pub model_remaining: Option<String>,
}

impl Quota {
    pub fn from_headers(h: &reqwest::header::HeaderMap) -> Quota {
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Quota {
            user_remaining: get("modelscope-ratelimit-requests-remaining"),
            model_remaining: get("modelscope-ratelimit-model-requests-remaining"),
        }
    }

    pub fn describe(&self) -> Option<String> {
        match (&self.user_remaining, &self.model_remaining) {
            (None, None) => None,
            (u, m) => Some(format!(
                "calls left today: {} for your account, {} for this model",
                u.as_deref().unwrap_or("?"),
                m.as_deref().unwrap_or("?")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_documented_shape() {
        let a: SubmitAnswer =
            serde_json::from_str(r#"{"task_id":123,"request_id":"r"}"#).expect("n");
        assert_eq!(a.task_id, "123");
        let t: TaskAnswer = serde_json::from_str(
            r#"{"task_status":"FAILED","errors":{"message":"oom","request_id":"x"}}"#,
        )
        .expect("f");
        assert_eq!(t.state(), TaskState::Failed);
        assert_eq!(t.reason().as_deref(), Some("oom"));
        assert_eq!(t.request_id().as_deref(), Some("x"));
        let bare: TaskAnswer = serde_json::from_str(r#"{"task_status":"FAILED"}"#).expect("b");
        assert_eq!(bare.reason(), None);
        let p: TaskAnswer =
            serde_json::from_str(r#"{"task_status":"PROCESSING","outputs":{}}"#).expect("p");
        assert_eq!(p.state(), TaskState::Running("PROCESSING".into()));
        let s: TaskAnswer = serde_json::from_str(
            r#"{"task_status":"SUCCEED","output_images":["u"],"time_taken":1.5}"#,
        )
        .expect("s");
        assert_eq!(s.state(), TaskState::Succeeded);
        let odd: TaskAnswer = serde_json::from_str(r#"{"task_status":"Hibernating"}"#).expect("o");
        assert_eq!(odd.state(), TaskState::Unknown("Hibernating".into()));
    }
}
