//! Answers as aiohttp writes them: JSON as `application/json; charset=utf-8`, command
//! routes as a bare 200 with no body and no `Content-Type`, and Python exceptions as
//! aiohttp's plain-text 500 (contract 1).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};

use super::json::Json;

/// The body aiohttp sends when a handler raises (malformed JSON on `/prompt`, …).
pub const CRASH_TEXT: &str = "500 Internal Server Error\n\nServer got itself in trouble";

/// A JSON answer.
pub fn json(status: StatusCode, body: &Json) -> Response {
    let mut response = (status, body.to_text()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A 200 JSON answer.
pub fn ok(body: &Json) -> Response {
    json(StatusCode::OK, body)
}

/// A status with an empty body and no `Content-Type`.
pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// aiohttp's answer to an exception in a handler.
pub fn crash() -> Response {
    text(StatusCode::INTERNAL_SERVER_ERROR, CRASH_TEXT)
}

/// A plain-text answer, as aiohttp's HTTP exceptions are.
pub fn text(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
