//! The simulator's router: the three routes of contract 12.1 and nothing else.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::record::{BODY_LIMIT, record};
use super::state::Shared;
use super::{download, poll, submit, wire};

/// Builds the app. Paths are exact: a client that doubles a slash gets a 404, as it
/// would from the real host.
pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/images/generations", post(submit::submit))
        .route("/v1/tasks/{task_id}", get(poll::poll))
        .route("/img/{file}", get(download::download))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Contract 5.2: a wrong path is a 404; its text is unknown.
async fn not_found() -> Response {
    wire::errors(StatusCode::NOT_FOUND, "Not Found")
}
