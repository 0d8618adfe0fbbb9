//! A log of every request a simulator received, shared by all simulators, so tests can
//! assert what a client sent (headers it must send, secrets it must not leak, fields it
//! must pass through) with one type whatever the service.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;

/// One request as a simulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Every header in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, or `None` when it was empty or not JSON. Simulators that
    /// take multipart forms (OpenAI's edits) record those as
    /// `{"parts": [{"name", "filename", "content_type", …}]}` instead.
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
    let (parts, bytes) = read(request, limit).await?;
    let recorded = describe(&parts, serde_json::from_slice(&bytes).ok());
    Ok((recorded, Request::from_parts(parts, Body::from(bytes))))
}

/// Reads the whole body of `request`, for a simulator that records it its own way (as
/// multipart parts, say). A body over `limit` bytes is answered 413 here.
pub async fn read(request: Request, limit: usize) -> Result<(Parts, Bytes), Response> {
    let (parts, body) = request.into_parts();
    match to_bytes(body, limit).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(_) => Err(StatusCode::PAYLOAD_TOO_LARGE.into_response()),
    }
}

/// The record of a request with head `parts` and the given body.
pub fn describe(parts: &Parts, body: Option<serde_json::Value>) -> RecordedRequest {
    RecordedRequest {
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
        body,
    }
}
