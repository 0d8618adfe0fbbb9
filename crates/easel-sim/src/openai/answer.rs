//! The 200 answer of generations and edits (contract 2.2, 6, 7.2, 7.6).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::config::ProviderMode;
use super::models::Family;
use super::render::{Spec, encode};
use super::request::{Delivery, ImageRequest};
use super::state::Shared;
use super::wire::ApiError;

/// Makes the pictures and the answer body. `key` tells generations and edits apart in
/// the pictures; `image_tokens` is what the input images cost (edits).
pub async fn answer(
    shared: &Shared,
    request: &ImageRequest,
    mode: &ProviderMode,
    key: &str,
    image_tokens: u64,
    request_id: &str,
) -> Result<Value, ApiError> {
    let specs = (0..request.n)
        .map(|index| Spec {
            width: request.width,
            height: request.height,
            key: format!("{key}\n{}\n{}\n{index}", request.model, request.prompt),
            format: request.format,
        })
        .collect();
    let images = encode(specs).await.map_err(|error| {
        tracing::error!(%error, "picture encoding task failed");
        ApiError::server_error(request_id)
    })?;
    let data: Vec<Value> = images
        .into_iter()
        .map(|bytes| {
            let mut item = Map::new();
            if *mode == ProviderMode::Relay {
                // Contract 7.2: the gateway hosts the file and leaves the rest empty.
                item.insert(
                    "url".into(),
                    shared.store_blob(bytes, request.format).into(),
                );
                item.insert("b64_json".into(), "".into());
                item.insert("revised_prompt".into(), "".into());
                return Value::Object(item);
            }
            match request.delivery {
                Delivery::B64 => {
                    let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    item.insert("b64_json".into(), text.into());
                }
                Delivery::Url => {
                    item.insert(
                        "url".into(),
                        shared.store_blob(bytes, request.format).into(),
                    );
                }
            }
            if request.family == Family::DallE3 {
                item.insert("revised_prompt".into(), revised(&request.prompt).into());
            }
            Value::Object(item)
        })
        .collect();
    let mut body = json!({"created": unix_now(), "data": data});
    let Some(object) = body.as_object_mut() else {
        return Ok(body);
    };
    match mode {
        ProviderMode::Relay => {
            object.insert(
                "metadata".into(),
                json!({"output": {"task_status": "SUCCEEDED", "results": request.n}}),
            );
        }
        _ if request.family.is_gpt_image() => {
            object.insert("background".into(), request.background.clone().into());
            object.insert("output_format".into(), request.format.name().into());
            object.insert("quality".into(), request.quality.clone().into());
            object.insert(
                "size".into(),
                format!("{}x{}", request.width, request.height).into(),
            );
            object.insert("usage".into(), usage(request, image_tokens));
        }
        _ => {}
    }
    Ok(body)
}

/// `created`: Unix seconds (contract 2.2).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// DALL·E 3 rewrites every prompt; the sim's rewrite is recognisable.
fn revised(prompt: &str) -> String {
    format!("A detailed, high-quality image of: {prompt}")
}

/// Token usage in the shape of contract 2.2: about four characters per text token, and
/// output tokens by quality and area (1056 for one medium 1024x1024 image).
fn usage(request: &ImageRequest, image_tokens: u64) -> Value {
    let text_tokens = (request.prompt.chars().count() as u64).div_ceil(4).max(1);
    let per_megapixel: u64 = match request.quality.as_str() {
        "low" => 272,
        "high" => 4160,
        _ => 1056,
    };
    let area = u64::from(request.width) * u64::from(request.height);
    let per_image = (per_megapixel * area).div_ceil(1024 * 1024).max(1);
    let output_tokens = per_image * u64::from(request.n);
    let input_tokens = text_tokens + image_tokens;
    json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    })
}
