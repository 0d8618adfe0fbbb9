//! Records every request the ModelScope simulator receives (see [`crate::record`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::state::Shared;
use crate::record::capture;

/// Largest request body accepted. Edit requests may carry base64 data URIs
/// (contract 8), so this is generous.
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Middleware: records the request, then hands it on with its body intact.
pub async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if !shared.recording() {
        return next.run(request).await;
    }
    match capture(request, BODY_LIMIT).await {
        Ok((recorded, request)) => {
            shared.push_request(recorded);
            next.run(request).await
        }
        Err(too_large) => too_large,
    }
}
