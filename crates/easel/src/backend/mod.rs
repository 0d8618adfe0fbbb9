//! The one job model every backend implements (ARCHITECTURE.md decision 1): `submit` a request and
//! get a ticket, `track` the ticket to its images while reporting progress, `fetch` each
//! image's bytes, `cancel`. Nothing here knows about MCP; nothing above knows a wire format.

pub mod comfyui;
mod error;
mod health;
pub mod http;
pub mod modelscope;
pub mod openai;
mod poll;
pub(crate) mod source;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::request::{GenerateRequest, InvalidInput};

pub use error::{BackendError, ErrorKind};
pub use poll::PollSchedule;

/// A backend's handle on submitted work (ModelScope task ids, a ComfyUI prompt id, …).
/// Opaque to the job layer, which stores it before tracking starts so that a restart can
/// resume tracking instead of paying for a second generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket(pub serde_json::Value);

/// Where one finished image can be fetched from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteImage {
    /// Position in the request (0-based); file names and seeds follow it.
    pub index: u32,
    /// The seed that made it; `None` lets the job layer assume the request's seed for
    /// this index, unless `seedless`.
    pub seed: Option<u64>,
    /// Made without any seed (a ComfyUI workflow with no seed input): no seed is reported
    /// or put in the file name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seedless: bool,
    /// Public URL of the image, when the backend has one.
    pub url: Option<String>,
    /// The prompt the model actually used, when the service rewrote it (DALL·E 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// Token usage of the call that made this image, when the service reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<serde_json::Value>,
}

/// The outcome of one requested image: a backend can finish some images of a request and
/// fail others (one ModelScope task per image).
pub type ImageOutcome = Result<RemoteImage, BackendError>;

/// Downloaded bytes and the type the server declared for them.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

/// What a backend can say while a ticket runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Work done so far, in `total` units when `total` is known.
    pub done: u64,
    pub total: Option<u64>,
    /// Position in the backend's queue, when it is waiting there.
    pub queue_position: Option<u32>,
    pub message: String,
}

/// Receives progress reports from a backend while it tracks a ticket.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(Progress) + Send + Sync>);

impl EventSink {
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        EventSink(Arc::new(f))
    }

    /// A sink that drops every report.
    pub fn ignore() -> Self {
        EventSink::new(|_| {})
    }

    pub fn send(&self, progress: Progress) {
        (self.0)(progress)
    }
}

/// A backend's health, for `easel doctor` and the `backends` tool.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct BackendStatus {
    pub name: String,
    /// Whether a generation could start now.
    pub ready: bool,
    /// One line for people.
    pub summary: String,
    /// Backend-specific facts (servers, queue, workflow checks, …).
    pub details: serde_json::Value,
}

/// The kinds of backend easel has, as the MCP instructions and docs name them: the name a
/// caller passes as `backend` (OpenAI-compatible providers are named in the configuration,
/// `openai` by default) and what it is.
pub const PROVIDERS: [(&str, &str); 3] = [
    ("modelscope", "hosted models"),
    ("comfyui", "ComfyUI workflows, one server or a pool"),
    (
        "openai-compatible",
        "OpenAI, SiliconFlow or any OpenAI-style API, each a backend of its configured name (default \"openai\")",
    ),
];

/// Whether cancelling reached the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    /// The backend offers no way to stop the work; the reason says so for the user.
    NotSupported(String),
}

#[async_trait]
pub trait Backend: Send + Sync {
    /// The name callers use to pick this backend (`modelscope`, …).
    fn name(&self) -> &str;

    /// Model used when the caller names none; `None` when something else decides (the
    /// ComfyUI workflow).
    fn default_model(&self) -> Option<&str>;

    /// Model used for edits when the caller names none.
    fn default_edit_model(&self) -> Option<&str> {
        self.default_model()
    }

    /// The workflow a request runs when it names none (ComfyUI's configured default, or
    /// the built-in edit workflow), so that jobs and reports name it; `None` for backends
    /// without workflows.
    fn default_workflow(&self, _edit: bool) -> Option<String> {
        None
    }

    /// Whether each image spends the user's money or paid quota (hosted APIs), which is
    /// what makes easel ask before a large generation. True unless the backend runs on the
    /// user's own hardware, so that a new hosted backend asks by default.
    fn paid(&self) -> bool {
        true
    }

    /// Backend-specific checks (sizes per model family, workflow parameters, …), before
    /// anything is sent. Returns warnings for the result, e.g. parameters that matched
    /// nothing, which must be reported rather than silently dropped.
    fn validate(&self, request: &GenerateRequest) -> Result<Vec<String>, InvalidInput>;

    /// Whether the backend can be used at all (credentials present, …); fails the call, not
    /// the server start.
    fn preflight(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// A ticket known before submitting (ComfyUI's own prompt id). The job layer stores it
    /// first, so that after a restart mid-submission the backend can be asked about it
    /// instead of the job being lost or submitted twice.
    fn prepare(&self, _request: &GenerateRequest) -> Option<Ticket> {
        None
    }

    /// Sends the request; `prepared` is what `prepare` returned.
    async fn submit(
        &self,
        request: &GenerateRequest,
        prepared: Option<&Ticket>,
    ) -> Result<Ticket, BackendError>;

    /// Follows `ticket` until every image is finished or failed. Errors here fail the whole
    /// ticket (auth lost, time-out); per-image failures come back as outcomes.
    async fn track(
        &self,
        ticket: &Ticket,
        events: &EventSink,
    ) -> Result<Vec<ImageOutcome>, BackendError>;

    /// Whether a job whose tracking failed with `error` should be submitted again, from
    /// `prepare` on: the backend lost the work (a ComfyUI server died mid-run) and the user
    /// allowed resubmission. Never by default, since it may repeat paid or long work.
    fn resubmit_after(&self, _error: &BackendError) -> bool {
        false
    }

    /// The bytes of one image; synchronous APIs find them in the ticket itself.
    async fn fetch(&self, ticket: &Ticket, image: &RemoteImage) -> Result<Fetched, BackendError>;

    async fn cancel(&self, ticket: &Ticket) -> CancelOutcome;

    /// Checks the backend (reachability, credentials, capabilities) without generating.
    async fn status(&self) -> BackendStatus;

    /// How often a client following a job of this backend should look again (an MCP task's
    /// `pollIntervalMs`): easel learns nothing new faster than it hears from the backend.
    fn poll_interval(&self) -> Duration;
}
