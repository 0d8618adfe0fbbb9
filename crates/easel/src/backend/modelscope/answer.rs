//! Turning ModelScope's HTTP answers into values or into errors an agent can act on.

use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;

use super::TOKEN_HELP;
use super::wire::{Quota, TaskAnswer};
use crate::backend::http::{MAX_ANSWER_BYTES, read_limited, transport_reason};
use crate::backend::{BackendError, ErrorKind};

pub fn unreachable(base: &str, e: &reqwest::Error) -> BackendError {
    BackendError::new(
        ErrorKind::Unreachable,
        format!(
            "cannot reach ModelScope at {base}: {}. Check the network, or modelscope.base_url / MODELSCOPE_BASE_URL.",
            transport_reason(e)
        ),
    )
}

/// Parses a 200 answer as `T`, or explains a non-200 one.
pub async fn parse<T: DeserializeOwned>(resp: Response, model: &str) -> Result<T, BackendError> {
    let status = resp.status();
    let quota = Quota::from_headers(resp.headers());
    let body = read_limited(resp, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| e.answer_error("ModelScope", "a request"))?;
    let text = String::from_utf8_lossy(&body);
    if status == StatusCode::OK {
        return serde_json::from_str(&text).map_err(|e| {
            BackendError::new(
                ErrorKind::Protocol,
                format!(
                    "ModelScope answered 200 with an unexpected body ({e}): {}",
                    clip(&text)
                ),
            )
        });
    }
    Err(status_error(status, &text, &quota, model))
}

fn clip(text: &str) -> String {
    let t: String = text.chars().take(300).collect();
    if t.len() < text.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// The error for a non-200 answer, worded by status (§5.2).
pub fn status_error(status: StatusCode, body: &str, quota: &Quota, model: &str) -> BackendError {
    let parsed: Option<TaskAnswer> = serde_json::from_str(body).ok();
    let request_id = parsed.as_ref().and_then(TaskAnswer::request_id);
    let said = parsed
        .as_ref()
        .and_then(TaskAnswer::reason)
        .unwrap_or_else(|| clip(body.trim()));
    let (kind, message) = match status.as_u16() {
        401 => (
            ErrorKind::Auth,
            format!("ModelScope rejected the access token (401: {said}). {TOKEN_HELP}"),
        ),
        403 => (
            ErrorKind::Auth,
            format!(
                "ModelScope refused access (403: {said}). Bind your ModelScope account to an Alibaba Cloud account with real-name verification (account settings on modelscope.cn), and check that model {model} is open to you."
            ),
        ),
        404 => (
            ErrorKind::Rejected,
            format!(
                "ModelScope answered 404 ({said}): model {model:?} may not exist or was retired. Check the model id on modelscope.cn, or use \"Qwen/Qwen-Image\"."
            ),
        ),
        429 => {
            let left = quota
                .describe()
                .map(|q| format!(" ({q})"))
                .unwrap_or_default();
            (
                ErrorKind::RateLimited,
                format!(
                    "ModelScope's rate limit or daily quota is exhausted (429: {said}){left}. Quotas reset daily: try again later, or use another model."
                ),
            )
        }
        400..=499 => (
            ErrorKind::Rejected,
            format!("ModelScope refused the request (HTTP {status}): {said}"),
        ),
        _ => (
            ErrorKind::Unreachable,
            format!(
                "ModelScope is failing (HTTP {status}: {said}) even after retries; try again in a few minutes."
            ),
        ),
    };
    BackendError::new(kind, message).with_request_id(request_id)
}
