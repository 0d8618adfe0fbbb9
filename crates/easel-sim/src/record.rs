//! A log of every request a simulator received, shared by all simulators, so tests can
//! assert what a client sent (headers it must send, secrets it must not leak, fields it
//! must pass through) with one type whatever the service.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};

/// One request as a simulator received it.
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

/// Reads `request` into a [`RecordedRequest`] and gives back an equivalent request (same
/// parts, same body bytes) to hand on. A body over `limit` bytes is answered 413 here,
/// since a handler could not have read it either.
pub async fn capture(
    request: Request,
    limit: usize,
) -> Result<(RecordedRequest, Request), Response> {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, limit).await else {
        return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
    };
    let recorded = RecordedRequest {
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
    };
    Ok((recorded, Request::from_parts(parts, Body::from(bytes))))
}
