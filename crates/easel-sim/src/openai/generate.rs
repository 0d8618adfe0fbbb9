//! `POST /v1/images/generations` (contract 2, 9.2).

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::admit::{admit, refusal};
use super::answer::answer;
use super::config::ProviderMode;
use super::fields::Fields;
use super::models::default_generation_model;
use super::request::{check, family_of};
use super::routes::RequestId;
use super::siliconflow;
use super::state::Shared;
use super::wire::ApiError;

/// The handler: SiliconFlow's own protocol in that mode, OpenAI's otherwise.
pub async fn generations(
    State(shared): State<Arc<Shared>>,
    Extension(RequestId(id)): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mode = shared.mode();
    if mode == ProviderMode::SiliconFlow {
        return siliconflow::generate(&shared, &id, &headers, &body).await;
    }
    match generate(&shared, &id, &headers, &body, &mode).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(error) => error.render(&mode, &id),
    }
}

async fn generate(
    shared: &Shared,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    mode: &ProviderMode,
) -> Result<Value, ApiError> {
    admit(shared, headers, id)?;
    let fields = Fields::json(body)?;
    let model = match fields.string("model")? {
        Some(model) => model.to_owned(),
        None => default_generation_model(|f| fields.has(f)).to_owned(),
    };
    let family = family_of(shared, &model)?;
    if let Some(name) = family.unknown_generation_field(&fields.names()) {
        return Err(ApiError::unknown_parameter(name));
    }
    let request = check(&fields, model, family, (1024, 1024), mode)?;
    let latency = shared.config(|c| c.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    refusal(shared, id)?;
    answer(shared, &request, mode, "generation", 0, id).await
}
