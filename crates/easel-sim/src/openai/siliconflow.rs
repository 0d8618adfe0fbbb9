//! SiliconFlow's `POST /v1/images/generations` (contract 7.1): `image_size` and
//! `batch_size` in, `{"images": [{"url"}], "timings", "seed"}` out. Fields OpenAI uses
//! instead (`size`, `n`, `response_format`) are ignored, as SiliconFlow ignores them;
//! the request log shows what a client sent.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::admit::{admit, known_model, refusal};
use super::config::ProviderMode;
use super::fields::Fields;
use super::models::parse_size;
use super::render::{Format, Spec, encode};
use super::state::Shared;
use super::wire::ApiError;

/// `image_size` when none is sent.
const DEFAULT_SIZE: &str = "1024x1024";

/// Largest seed SiliconFlow accepts.
const MAX_SEED: i64 = 9_999_999_999;

/// Answers one generation, with the `x-siliconcloud-trace-id` header.
pub async fn generate(shared: &Shared, id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut response = match run(shared, id, headers, body).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(error) => error.render(&ProviderMode::SiliconFlow, id),
    };
    if let Ok(trace) = HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()) {
        response
            .headers_mut()
            .insert("x-siliconcloud-trace-id", trace);
    }
    response
}

async fn run(
    shared: &Shared,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, ApiError> {
    admit(shared, headers, id)?;
    let fields = Fields::json(body)?;
    let model = fields.required_string("model")?;
    known_model(shared, model)?;
    let prompt = fields.required_string("prompt")?;
    let size = fields.string("image_size")?.unwrap_or(DEFAULT_SIZE);
    let (width, height) = parse_size(size)
        .filter(|(w, h)| *w <= 4096 && *h <= 4096)
        .ok_or_else(|| {
            ApiError::invalid(
                format!("Invalid image_size: {size}"),
                Some("image_size"),
                None,
            )
        })?;
    let batch = fields.integer("batch_size")?.unwrap_or(1);
    if !(1..=4).contains(&batch) {
        return Err(ApiError::invalid(
            format!("batch_size must be between 1 and 4, got {batch}"),
            Some("batch_size"),
            None,
        ));
    }
    let seed = match fields.integer("seed")? {
        Some(seed) if !(0..=MAX_SEED).contains(&seed) => {
            return Err(ApiError::invalid(
                format!("seed must be between 0 and {MAX_SEED}, got {seed}"),
                Some("seed"),
                None,
            ));
        }
        Some(seed) => seed,
        None => rand::random_range(0..=MAX_SEED),
    };
    if let Some(steps) = fields.integer("num_inference_steps")?
        && !(1..=100).contains(&steps)
    {
        return Err(ApiError::invalid(
            format!("num_inference_steps must be between 1 and 100, got {steps}"),
            Some("num_inference_steps"),
            None,
        ));
    }
    let started = Instant::now();
    let latency = shared.config(|c| c.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    refusal(shared, id)?;
    let specs = (0..batch)
        .map(|index| Spec {
            width,
            height,
            key: format!("siliconflow\n{model}\n{prompt}\n{seed}\n{index}"),
            format: Format::Png,
        })
        .collect();
    let images = encode(specs).await.map_err(|error| {
        tracing::error!(%error, "picture encoding task failed");
        ApiError::server_error(id)
    })?;
    let images: Vec<Value> = images
        .into_iter()
        .map(|bytes| json!({"url": shared.store_blob(bytes, Format::Png)}))
        .collect();
    let inference = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(json!({
        "images": images,
        "timings": {"inference": inference},
        "seed": seed,
    }))
}
