//! The shapes of ModelScope's answers on the wire (contract sections 2 to 5).
//!
//! Every body the simulator sends is built here, so the texts that clients match on live
//! in one place and can be compared with the contract line by line.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Contract 12.2: the 401 text seen on the same host.
pub const AUTH_FAILED: &str =
    "Authentication failed, please make sure that a valid ModelScope token is supplied.";

/// Contract 4: verbatim message of the 400 for a submit without async mode.
pub const SYNC_REJECTED: &str = "image-gen task currently does not support synchronous calls. Please refer to the documentation and set header X-ModelScope-Async-Mode=true to switch to asynchronous calling mode";

/// Contract 5.2: the 429 text.
pub const LIMIT_EXCEEDED: &str = "Request limit exceeded.";

/// Contract 12.12 (assumption): the text of a poll for a task that is not found.
pub const TASK_NOT_FOUND: &str = "task not found";

/// Contract 12.14: a gateway failure, the kind of non-JSON body an Envoy proxy in front of
/// the service sends when the backend is unreachable.
pub const UPSTREAM_ERROR: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure";

/// A fresh `request_id`, a UUID as in every capture.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A JSON answer with a status.
pub fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Contract 5.1: `{"errors": {"message": …}, "request_id": …}`.
pub fn errors(status: StatusCode, message: &str) -> Response {
    json(
        status,
        json!({"errors": {"message": message}, "request_id": request_id()}),
    )
}

/// Contract 5.2: the 429 capture puts `request_id` inside `errors`.
pub fn limit_exceeded(retry_after: Option<u64>) -> Response {
    let mut response = json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"errors": {"message": LIMIT_EXCEEDED, "request_id": request_id()}}),
    );
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Contract 12.14: 500 with a plain-text body, so a client cannot rely on JSON errors.
pub fn upstream_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain")],
        UPSTREAM_ERROR,
    )
        .into_response()
}

/// Where a caller stands against its daily quotas, for the contract 5.3 headers.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    pub model_limit: u32,
    pub model_remaining: u32,
}

impl RateLimit {
    /// Adds the four `modelscope-ratelimit-*` headers to an answer.
    pub fn apply(self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        for (name, value) in [
            ("modelscope-ratelimit-requests-limit", self.limit),
            ("modelscope-ratelimit-requests-remaining", self.remaining),
            (
                "modelscope-ratelimit-model-requests-limit",
                self.model_limit,
            ),
            (
                "modelscope-ratelimit-model-requests-remaining",
                self.model_remaining,
            ),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
        response
    }
}
