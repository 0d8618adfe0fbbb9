//! `POST /v1/images/generations` (contract 2, 4, 12.3 to 12.6, 12.10).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use serde_json::json;

use super::state::{Accepted, Shared};
use super::{auth, params, wire};

/// The header that selects asynchronous mode (contract 2.1).
const ASYNC_MODE: &str = "x-modelscope-async-mode";

/// Checks run in the order a gateway and then the service would: transport fault, auth,
/// mode, body, model, quota. Only an accepted submit uses quota.
pub async fn submit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.take_submit_500() {
        return wire::upstream_error();
    }
    let token = match auth::bearer(&shared, &headers) {
        Ok(token) => token,
        Err(unauthorized) => return unauthorized.into_response(),
    };
    let async_mode = headers
        .get(ASYNC_MODE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let legacy_sync = shared.config(|c| c.legacy_sync);
    if !async_mode && !legacy_sync {
        let rate = shared.rate_limit(&token, "");
        return rate.apply(wire::errors(StatusCode::BAD_REQUEST, wire::SYNC_REJECTED));
    }
    let body = match params::parse(&body) {
        Ok(body) => body,
        Err(message) => {
            let rate = shared.rate_limit(&token, "");
            return rate.apply(wire::errors(StatusCode::BAD_REQUEST, &message));
        }
    };
    let known = shared.config(|c| {
        c.known_models
            .as_ref()
            .is_none_or(|known| known.contains(&body.model))
    });
    if !known {
        let rate = shared.rate_limit(&token, &body.model);
        let message = format!("Model not found: {}", body.model);
        return rate.apply(wire::errors(StatusCode::NOT_FOUND, &message));
    }
    match shared.accept(&token, &body) {
        Ok(accepted) if async_mode => answer_task(accepted),
        Ok(accepted) => answer_legacy(accepted).await,
        Err(throttled) => throttled
            .rate
            .apply(wire::limit_exceeded(throttled.retry_after)),
    }
}

/// Contract 2.5: `{"task_id": "<digits>", "request_id": …}`.
fn answer_task(accepted: Accepted) -> Response {
    let task_id = if accepted.id_as_number {
        json!(accepted.task_id)
    } else {
        json!(accepted.task_id.to_string())
    };
    let body = json!({"task_id": task_id, "request_id": wire::request_id()});
    accepted.rate.apply(wire::json(StatusCode::OK, body))
}

/// Contract 4: the pre-2025 synchronous answer, given once the task would be done.
async fn answer_legacy(accepted: Accepted) -> Response {
    if !accepted.latency.is_zero() {
        tokio::time::sleep(accepted.latency).await;
    }
    let images: Vec<_> = accepted
        .urls
        .iter()
        .map(|url| json!({"url": url}))
        .collect();
    let body = json!({"images": images, "request_id": wire::request_id()});
    accepted.rate.apply(wire::json(StatusCode::OK, body))
}
