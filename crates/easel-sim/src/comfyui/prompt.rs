//! `POST /prompt` (contract 3), in the order the real handler works: parse (500 on bad
//! JSON), take a priority number (the counter moves unless `number` is given), check for
//! `prompt`, check `prompt_id`, validate the graph, then queue the job.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use super::json::{Json, obj};
use super::queue::Job;
use super::state::{Shared, now_ms};
use super::validate::{self, Verdict};
use super::wire;

/// `extra_data` keys the server strips before storing a job (contract 3.1).
const SENSITIVE: [&str; 2] = ["auth_token_comfy_org", "api_key_comfy_org"];

/// The handler.
pub async fn post_prompt(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(body) = Json::parse(&body) else {
        return wire::crash();
    };
    let usage_source = headers
        .get("comfy-usage-source")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let answer = submit(&shared, body, usage_source).unwrap_or_else(|Crash| wire::crash());
    if answer.status() == StatusCode::OK {
        // The job is queued already; only its answer waits (`hold_answers`).
        shared.answer_released().await;
    }
    answer
}

/// A Python exception escaped the handler: aiohttp answers 500.
struct Crash;

fn bad_request(error: Json, node_errors: Json) -> Response {
    wire::json(
        StatusCode::BAD_REQUEST,
        &obj! {"error" => error, "node_errors" => node_errors},
    )
}

fn submit(shared: &Shared, body: Json, usage_source: Option<String>) -> Result<Response, Crash> {
    let fields = match &body {
        Json::Object(_) => body.clone(),
        // `"number" in body` works on a list or a string (and finds nothing there).
        Json::Array(_) | Json::String(_) => Json::object(),
        _ => return Err(Crash),
    };
    let number = match fields.get("number") {
        Some(number) => Json::float(python_float(number).ok_or(Crash)?),
        None => {
            let counter = shared.next_number();
            let front = fields.get("front").is_some_and(Json::truthy);
            Json::from(if front { -counter } else { counter })
        }
    };
    let Some(graph) = fields.get("prompt") else {
        let error = validate::error("no_prompt", "No prompt provided", "No prompt provided");
        return Ok(bad_request(error, Json::object()));
    };
    let prompt_id = match fields.get("prompt_id") {
        None | Some(Json::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Json::String(id)) if canonical_uuid(id) => id.clone(),
        Some(_) => {
            let error = validate::error(
                "invalid_prompt_id",
                "prompt_id must be a valid UUID",
                "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one",
            );
            return Ok(bad_request(error, Json::object()));
        }
    };
    let partial = match fields.get("partial_execution_targets") {
        None | Some(Json::Null) => None,
        Some(Json::Array(targets)) => Some(targets.as_slice()),
        Some(_) => return Err(Crash),
    };
    let mut graph = graph.clone();
    let registry = shared.registry();
    let exists = |name: &str| shared.files(|f| f.annotated(name).is_some());
    let verdict = validate::validate(&mut graph, &registry, partial, &exists);
    let mut extra_data = match fields.get("extra_data") {
        None => Json::object(),
        Some(extra @ Json::Object(_)) => extra.clone(),
        Some(_) => return Err(Crash),
    };
    if let Some(client_id) = fields.get("client_id") {
        extra_data.insert("client_id", client_id.clone());
    }
    if extra_data.get("comfy_usage_source").is_none()
        && let Some(source) = usage_source
    {
        extra_data.insert("comfy_usage_source", source);
    }
    match verdict {
        Verdict::Crash => Err(Crash),
        Verdict::Rejected { error, node_errors } => Ok(bad_request(error, node_errors)),
        Verdict::Accepted {
            outputs,
            node_errors,
        } => {
            for key in SENSITIVE {
                extra_data.remove(key);
            }
            extra_data.insert("create_time", now_ms());
            let answer = obj! {
                "prompt_id" => prompt_id.as_str(),
                "number" => number.clone(),
                "node_errors" => node_errors,
            };
            let job = Job {
                number,
                prompt_id,
                graph,
                extra_data,
                outputs,
            };
            shared.enqueue(job, serde_json::Value::from(&body));
            Ok(wire::ok(&answer))
        }
    }
}

/// `str(uuid.UUID(text)) == text`: hyphenated, lowercase, 36 characters.
fn canonical_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|id| id.hyphenated().to_string() == text)
}

/// Python's `float(value)` for the `number` field.
fn python_float(value: &Json) -> Option<f64> {
    match value {
        Json::Number(_) | Json::Bool(_) => value.as_f64(),
        Json::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}
