//! ModelScope API-Inference (docs/contracts/modelscope.md): asynchronous submit, adaptive
//! polling, one task per image, images downloaded without credentials.

mod answer;
mod limits;
mod task;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::health::Check;
use super::http::{self, RetryPolicy};
use super::{
    Backend, BackendError, BackendStatus, CancelOutcome, ErrorKind, EventSink, Fetched,
    ImageOutcome, RemoteImage, Ticket,
};
use crate::clock::now_ms;
use crate::config::ModelScopeSettings;
use crate::request::{GenerateRequest, InvalidInput};

pub use limits::{check_size, family, is_edit_model};

/// ModelScope's edit model when the caller names none (docs/contracts/modelscope.md §8).
const DEFAULT_EDIT_MODEL: &str = "Qwen/Qwen-Image-Edit-2509";

/// ModelScope fetches sources itself, so each needs a public URL; a local file with none
/// cannot be sent (easel does not invent an upload service).
fn validate_edit(request: &GenerateRequest, model: &str) -> Result<Vec<String>, InvalidInput> {
    if !is_edit_model(model) {
        return Err(InvalidInput::new(
            "model",
            format!("{model} cannot edit images"),
            format!(
                "Use an edit model such as \"{DEFAULT_EDIT_MODEL}\" or \"black-forest-labs/FLUX.1-Kontext-dev\", or leave model out."
            ),
        ));
    }
    if let Some(local) = request.sources.iter().find(|s| s.url.is_none()) {
        return Err(InvalidInput::new(
            "images",
            format!(
                "{} is a local file, and ModelScope can only fetch source images from a public URL",
                local.label
            ),
            "Give an http(s) URL the internet can reach, or an easel image that ModelScope made (it keeps its URL), or use backend \"comfyui\" or an OpenAI-compatible provider, which upload local files.",
        ));
    }
    let mut warnings = Vec::new();
    if request.mask.is_some() {
        warnings.push("ModelScope edit models take no mask; it was not sent".to_string());
    }
    Ok(warnings)
}

/// Only used if a request reaches the wire without a model, which the service prevents by
/// filling in the configured default.
const DEFAULT_MODEL_FALLBACK: &str = crate::config::MODELSCOPE_MODEL;

/// Where tokens come from, for every message about credentials.
const TOKEN_HELP: &str = "Create an access token at https://modelscope.cn/my/myaccesstoken and set it as MODELSCOPE_SDK_TOKEN in the environment of easel (in an MCP client, the \"env\" of easel's entry).";

/// One submitted task (one image) of a ticket, or why its submission failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TaskEntry {
    index: u32,
    seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<BackendError>,
}

/// The ticket: the tasks, and when they were submitted (the time-out counts from there,
/// also after a restart).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TicketBody {
    submitted_at_ms: u64,
    tasks: Vec<TaskEntry>,
}

pub struct ModelScope {
    http: reqwest::Client,
    settings: ModelScopeSettings,
}

impl ModelScope {
    pub fn new(settings: ModelScopeSettings) -> Result<Self, BackendError> {
        Ok(ModelScope {
            http: http::client(settings.http_timeout)?,
            settings,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    fn token(&self) -> Result<&SecretString, BackendError> {
        self.settings.token.as_ref().ok_or_else(|| {
            BackendError::new(
                ErrorKind::Auth,
                format!("ModelScope needs an access token and none is set. {TOKEN_HELP} The ModelScope account must be bound to an Alibaba Cloud account with real-name verification."),
            )
        })
    }

    fn retry(&self, ambiguous: bool) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.settings.max_retries,
            base: self.settings.retry_base,
            retry_ambiguous: ambiguous,
        }
    }

    /// Submits one task; its seed is the image's own.
    async fn submit_one(&self, req: &GenerateRequest, seed: u64) -> Result<String, BackendError> {
        let token = self.token()?;
        let body = wire::SubmitBody::new(req, seed);
        let resp = http::send_retrying(self.retry(false), || {
            self.http
                .post(self.url("v1/images/generations"))
                .bearer_auth(token.expose_secret())
                .header("X-ModelScope-Async-Mode", "true")
                .json(&body)
        })
        .await
        .map_err(|e| answer::unreachable(&self.settings.base_url, &e))?;
        let model = body.model;
        let accepted: wire::SubmitAnswer = answer::parse(resp, model).await?;
        tracing::info!(task_id = %accepted.task_id, request_id = ?accepted.request_id, model, seed, "ModelScope task submitted");
        Ok(accepted.task_id)
    }
}

fn ticket_body(ticket: &Ticket) -> Result<TicketBody, BackendError> {
    serde_json::from_value(ticket.0.clone()).map_err(|e| {
        BackendError::new(
            ErrorKind::Protocol,
            format!("stored ModelScope ticket is unreadable: {e}"),
        )
    })
}

#[async_trait]
impl Backend for ModelScope {
    fn name(&self) -> &str {
        "modelscope"
    }

    fn default_model(&self) -> Option<&str> {
        Some(&self.settings.default_model)
    }

    fn default_edit_model(&self) -> Option<&str> {
        Some(DEFAULT_EDIT_MODEL)
    }

    fn validate(&self, request: &GenerateRequest) -> Result<Vec<String>, InvalidInput> {
        if request.workflow.is_some() || !request.params.is_empty() {
            return Err(InvalidInput::new(
                "workflow",
                "workflows and params apply to ComfyUI only",
                "Leave workflow and params out for ModelScope, or set backend to \"comfyui\".",
            ));
        }
        let model = request
            .model
            .as_deref()
            .unwrap_or(&self.settings.default_model);
        if request.is_edit() {
            return validate_edit(request, model);
        }
        if is_edit_model(model) {
            return Err(InvalidInput::new(
                "model",
                format!("{model} is an image-edit model and needs a source image"),
                "Use a text-to-image model such as \"Qwen/Qwen-Image\" or \"Tongyi-MAI/Z-Image-Turbo\".",
            ));
        }
        check_size(model, request.size)?;
        Ok(Vec::new())
    }

    fn preflight(&self) -> Result<(), BackendError> {
        self.token().map(|_| ())
    }

    /// One task per image (ModelScope makes one image per task), all submitted at once.
    /// Images whose submission failed are recorded in the ticket so that the others still
    /// count; only when none was accepted does the submission fail.
    async fn submit(
        &self,
        request: &GenerateRequest,
        _prepared: Option<&Ticket>,
    ) -> Result<Ticket, BackendError> {
        let submitted_at_ms = now_ms();
        let results = join_all((0..request.count).map(|i| {
            let seed = request.seed_for(i);
            async move { (i, seed, self.submit_one(request, seed).await) }
        }))
        .await;
        if let Some(err) = results
            .iter()
            .all(|(_, _, r)| r.is_err())
            .then(|| {
                results
                    .iter()
                    .find_map(|(_, _, r)| r.as_ref().err().cloned())
            })
            .flatten()
        {
            return Err(err);
        }
        let tasks = results
            .into_iter()
            .map(|(index, seed, r)| match r {
                Ok(id) => TaskEntry {
                    index,
                    seed,
                    task_id: Some(id),
                    error: None,
                },
                Err(e) => TaskEntry {
                    index,
                    seed,
                    task_id: None,
                    error: Some(e),
                },
            })
            .collect();
        let body = TicketBody {
            submitted_at_ms,
            tasks,
        };
        serde_json::to_value(body).map(Ticket).map_err(|e| {
            BackendError::new(ErrorKind::Protocol, format!("cannot record ticket: {e}"))
        })
    }

    async fn track(
        &self,
        ticket: &Ticket,
        events: &EventSink,
    ) -> Result<Vec<ImageOutcome>, BackendError> {
        let body = ticket_body(ticket)?;
        let token = self.token()?;
        let elapsed = Duration::from_millis(now_ms().saturating_sub(body.submitted_at_ms));
        let remaining = self.settings.timeout.saturating_sub(elapsed);
        let tracker = task::Tracker::new(
            self,
            token,
            remaining,
            body.tasks.len() as u64,
            events.clone(),
        );
        Ok(join_all(body.tasks.iter().map(|t| tracker.follow(t))).await)
    }

    async fn fetch(&self, _ticket: &Ticket, image: &RemoteImage) -> Result<Fetched, BackendError> {
        let url = image
            .url
            .as_deref()
            .ok_or_else(|| BackendError::new(ErrorKind::Protocol, "ModelScope image has no URL"))?;
        // The storage host is public: never send the bearer token there (§7).
        http::download(
            &self.http,
            &reqwest::header::HeaderMap::new(),
            self.retry(true),
            url,
            &format!("image {}", image.index + 1),
        )
        .await
    }

    /// Checks the token with a poll of a task that does not exist: authenticated like every
    /// call, but it generates nothing and spends no quota (404 = token accepted).
    async fn status(&self) -> BackendStatus {
        let base = &self.settings.base_url;
        let details = |token: &str, check: serde_json::Value| {
            serde_json::json!({
                "base_url": base,
                "default_model": self.settings.default_model,
                "token": token,
                "check": check,
            })
        };
        let Some(token) = &self.settings.token else {
            return BackendStatus {
                name: "modelscope".into(),
                ready: false,
                summary: format!("no token: {TOKEN_HELP}"),
                details: details("missing", serde_json::Value::Null),
            };
        };
        const ASKED: &str = "GET v1/tasks/0, which spends no quota";
        let check = Check::run(
            self.http
                .get(self.url("v1/tasks/0"))
                .bearer_auth(token.expose_secret())
                .header("X-ModelScope-Task-Type", "image_generation"),
            &[reqwest::StatusCode::NOT_FOUND],
        )
        .await;
        BackendStatus {
            name: "modelscope".into(),
            ready: check.ready(),
            summary: check.summary(&format!("ModelScope at {base}"), ASKED, TOKEN_HELP),
            details: details("set", check.details(ASKED)),
        }
    }

    /// The ceiling of easel's own polling of a ModelScope task: where long jobs settle.
    fn poll_interval(&self) -> std::time::Duration {
        self.settings.poll_max
    }

    async fn cancel(&self, _ticket: &Ticket) -> CancelOutcome {
        CancelOutcome::NotSupported(
            "ModelScope has no API to stop a submitted task: it will finish at ModelScope (and count against the daily quota), but easel will not download or save its images".into(),
        )
    }
}
