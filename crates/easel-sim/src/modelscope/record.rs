//! A log of every request the simulator received, so tests can assert what a client sent
//! (headers it must send, the token it must not leak, fields it must pass through).

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::Shared;

/// Largest request body accepted. Edit requests may carry base64 data URIs
/// (contract 8), so this is generous.
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One request as the simulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Every header in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, or `None` when it was empty or not JSON.
    pub body: Option<serde_json::Value>,
}

impl RecordedRequest {
    /// The first value of header `name` (any case), so tests read
    /// `req.header("x-modelscope-task-type")` instead of searching the list.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Middleware: records the request, then hands it on with its body intact.
pub async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if !shared.recording() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    shared.push_request(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_ascii_lowercase(), value)
            })
            .collect(),
        body: serde_json::from_slice(&bytes).ok(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
