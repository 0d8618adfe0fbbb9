//! The router, the middleware every answer passes through (request log, request id and
//! OpenAI's response headers), the file route behind `url` answers, and the 404s.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::config::ProviderMode;
use super::state::Shared;
use super::wire::{ApiError, request_id};
use super::{edits, form, generate};
use crate::record::{describe, read};

/// Largest request body accepted: 16 GPT image inputs of several MB each fit.
pub const BODY_LIMIT: usize = 256 * 1024 * 1024;

/// The `x-request-id` of the request being answered, for handlers that quote it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// What the storage answers for an unknown or expired file (Azure Blob style, where
/// DALL·E URLs point).
const BLOB_NOT_FOUND: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>";

/// Builds the app.
pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/images/generations", post(generate::generations))
        .route("/v1/images/edits", post(edits::edits))
        .route("/v1/models", get(models))
        .route("/files/{name}", get(file))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// `GET /v1/models`: the list of models, behind the same bearer check as every API route;
/// the cheapest authenticated call (a client checks its key with it).
async fn models(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> Response {
    if let Err(refused) = super::admit::bearer(&shared, &headers) {
        let mode = shared.config(|c| c.mode.clone());
        return refused.render(&mode, &request_id());
    }
    let ids = shared.config(|c| {
        c.known_models
            .clone()
            .unwrap_or_else(|| vec!["gpt-image-1".into(), "dall-e-3".into(), "dall-e-2".into()])
    });
    let data: Vec<serde_json::Value> = ids
        .into_iter()
        .map(|id| serde_json::json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "system"}))
        .collect();
    axum::Json(serde_json::json!({"object": "list", "data": data})).into_response()
}

/// Middleware: records the request (multipart bodies as their parts), gives it a request
/// id, and adds `x-request-id`, `openai-version` and `openai-processing-ms` to the answer.
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (mut parts, bytes) = match read(request, BODY_LIMIT).await {
        Ok(read) => read,
        Err(too_large) => return too_large,
    };
    let body = if form::is_multipart(&parts.headers) {
        form::parse(&parts.headers, bytes.clone())
            .await
            .ok()
            .map(|form| form.describe())
    } else {
        serde_json::from_slice(&bytes).ok()
    };
    shared.push_request(describe(&parts, body));
    let id = request_id();
    parts.extensions.insert(RequestId(id.clone()));
    let mut response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", value);
    }
    headers.insert("openai-version", HeaderValue::from_static("2020-10-01"));
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    headers.insert("openai-processing-ms", HeaderValue::from(millis));
    response
}

/// `GET /files/{name}`: a generated file, without auth (contract 8.3: clients download
/// URLs without the provider's Authorization header; the log shows if one was sent).
async fn file(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match shared.blob(&name) {
        Some((bytes, format)) => ([(header::CONTENT_TYPE, format.mime())], bytes).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/xml")],
            BLOB_NOT_FOUND,
        )
            .into_response(),
    }
}

/// A path or method nobody serves: OpenAI's `Invalid URL` error; gateways and
/// SiliconFlow answer a plain-text 404.
async fn not_found(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    match shared.mode() {
        ProviderMode::OpenAi => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Invalid URL ({method} {})", uri.path()),
            "invalid_request_error",
            None,
            None,
        )
        .render(&ProviderMode::OpenAi, ""),
        ProviderMode::SiliconFlow | ProviderMode::Relay => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "404 page not found",
        )
            .into_response(),
    }
}
