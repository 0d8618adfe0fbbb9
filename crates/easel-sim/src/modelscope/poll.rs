//! `GET /v1/tasks/{task_id}` (contract 3, 12.7 to 12.9, 12.11, 12.12).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use serde_json::{Value, json};

use super::state::Shared;
use super::task::{Outcome, Phase};
use super::{auth, wire};

/// The header every client sends on polls (contract 3.1).
const TASK_TYPE: &str = "x-modelscope-task-type";

pub async fn poll(
    State(shared): State<Arc<Shared>>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let delay = shared.config(|c| c.poll_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if shared.take_poll_500() {
        return wire::upstream_error();
    }
    let token = match auth::bearer(&shared, &headers) {
        Ok(token) => token,
        Err(unauthorized) => return unauthorized.into_response(),
    };
    let typed = headers
        .get(TASK_TYPE)
        .is_some_and(|v| v.as_bytes() == b"image_generation");
    // Contract 12.12: what the real service does here is unknown; strict mode assumes
    // it does not find the task.
    let strict = shared.config(|c| c.strict_task_type);
    let polled = if typed || !strict {
        shared.poll(&task_id, &token)
    } else {
        None
    };
    let Some(polled) = polled else {
        let rate = shared.rate_limit(&token, "");
        return rate.apply(wire::errors(StatusCode::NOT_FOUND, wire::TASK_NOT_FOUND));
    };
    let echoed_id = if polled.id_as_number {
        task_id
            .parse::<u64>()
            .map_or_else(|_| json!(task_id), |n| json!(n))
    } else {
        json!(task_id)
    };
    let (padding, unknown) = shared.config(|c| (c.poll_padding, c.unknown_status.clone()));
    if let Phase::InProgress(_) = polled.phase {
        if let Some(status) = unknown {
            let answer = json!({"task_status": status, "outputs": {}});
            return polled.rate.apply(wire::json(StatusCode::OK, answer));
        }
        if padding > 0 {
            return polled.rate.apply(padded(padding));
        }
    }
    polled
        .rate
        .apply(wire::json(StatusCode::OK, body(polled.phase, echoed_id)))
}

/// `{"task_status": "PROCESSING", "padding": "   …"}` with `bytes` of padding, streamed in
/// 64 KiB pieces.
fn padded(bytes: usize) -> Response {
    use futures::stream::{self, StreamExt};
    const PIECE: usize = 64 * 1024;
    let head = bytes::Bytes::from_static(br#"{"task_status": "PROCESSING", "padding": ""#);
    let spaces = bytes::Bytes::from(vec![b' '; PIECE]);
    let pieces = (0..bytes.div_ceil(PIECE)).map(move |i| {
        let len = PIECE.min(bytes - i * PIECE);
        spaces.slice(..len)
    });
    let body = stream::once(async move { head })
        .chain(stream::iter(pieces))
        .chain(stream::once(async { bytes::Bytes::from_static(br#""}"#) }))
        .map(Ok::<_, std::convert::Infallible>);
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// The poll body for a phase (contract 3.2).
fn body(phase: Phase, task_id: Value) -> Value {
    match phase {
        Phase::InProgress(status @ "PENDING") => json!({"task_status": status}),
        Phase::InProgress(status) => json!({"task_status": status, "outputs": {}}),
        Phase::Terminal {
            outcome: Outcome::Succeed { urls },
            time_taken_ms,
        } => json!({
            "task_status": "SUCCEED",
            "output_images": urls,
            "time_taken": time_taken_ms,
            "task_id": task_id,
            "request_id": wire::request_id(),
        }),
        Phase::Terminal {
            outcome: Outcome::Fail {
                message: Some(message),
            },
            ..
        } => json!({
            "task_status": "FAILED",
            "errors": {"message": message},
            "request_id": wire::request_id(),
        }),
        Phase::Terminal {
            outcome: Outcome::Fail { message: None },
            ..
        } => json!({"task_status": "FAILED"}),
    }
}
