//! Backend failures, worded for the agent that has to act on them.

use std::fmt;

/// What went wrong, so that callers can decide (retry later, fix input, fix setup).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Credentials missing, wrong, or not allowed: fix the setup.
    Auth,
    /// Rate limit or quota: try again later.
    RateLimited,
    /// The service refused the request as given (400, 404): change the request.
    Rejected,
    /// The generation ran and failed at the service.
    Failed,
    /// Did not finish in the configured time.
    Timeout,
    /// Could not reach the service.
    Unreachable,
    /// The service answered something outside its contract.
    Protocol,
    /// An image could not be downloaded or was not an image.
    Download,
    /// The image could not be written under the output root.
    Save,
    /// Stopped on request.
    Cancelled,
}

/// A failure with a complete, secret-free message and the service's request id when known.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The service's own structured error (ComfyUI `node_errors`, …), for structured content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BackendError {
            kind,
            message: message.into(),
            request_id: None,
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}
