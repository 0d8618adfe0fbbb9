//! `POST /v1/images/edits`, the multipart form (contract 3.1, 9.3).

use std::io::Cursor;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use image::{ImageDecoder as _, ImageFormat};
use serde_json::Value;

use super::admit::{admit, refusal};
use super::answer::answer;
use super::config::ProviderMode;
use super::fields::Fields;
use super::form::{self, Form, Part};
use super::models::{DEFAULT_EDIT_MODEL, Family};
use super::request::{check, family_of};
use super::routes::{BODY_LIMIT, RequestId};
use super::state::Shared;
use super::wire::ApiError;

/// GPT image models take up to 16 input images (contract 3.1).
const MAX_IMAGES: usize = 16;
/// Each GPT image input must be under 50 MB.
const MAX_IMAGE_BYTES: usize = 50 * 1024 * 1024;
/// DALL·E 2 images and every mask must be under 4 MB.
const MAX_PNG_BYTES: usize = 4 * 1024 * 1024;
/// What one input image adds to `usage.input_tokens` (a made-up but stable figure).
const TOKENS_PER_IMAGE: u64 = 194;

/// The handler. SiliconFlow has no such endpoint: 404 there.
pub async fn edits(
    State(shared): State<Arc<Shared>>,
    Extension(RequestId(id)): Extension<RequestId>,
    request: Request,
) -> Response {
    let mode = shared.mode();
    if mode == ProviderMode::SiliconFlow {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "404 page not found",
        )
            .into_response();
    }
    match edit(&shared, &id, request, &mode).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(error) => error.render(&mode, &id),
    }
}

async fn edit(
    shared: &Shared,
    id: &str,
    request: Request,
    mode: &ProviderMode,
) -> Result<Value, ApiError> {
    admit(shared, request.headers(), id)?;
    if !form::is_multipart(request.headers()) {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        return Err(ApiError::invalid(
            format!("Invalid Content-Type header ({content_type}), expected multipart/form-data."),
            None,
            None,
        ));
    }
    let (parts, body) = crate::record::read(request, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::invalid("Request body too large.", None, None))?;
    let form = form::parse(&parts.headers, body).await.map_err(|e| {
        ApiError::invalid(format!("Could not parse multipart form: {e}"), None, None)
    })?;
    let fields = Fields::form(form.texts());
    let model = fields
        .string("model")?
        .unwrap_or(DEFAULT_EDIT_MODEL)
        .to_owned();
    let family = family_of(shared, &model)?;
    if family == Family::DallE3 {
        return Err(ApiError::invalid_value(
            "model",
            &model,
            &[
                "dall-e-2",
                "gpt-image-1",
                "gpt-image-1-mini",
                "gpt-image-1.5",
                "gpt-image-2",
            ],
        ));
    }
    if let Some(name) = family.unknown_edit_field(&form.names()) {
        return Err(ApiError::unknown_parameter(name));
    }
    let images = input_images(&form, family)?;
    let first = images
        .first()
        .map(|i| i.size)
        .ok_or_else(|| ApiError::missing("image"))?;
    let mask = form.named("mask").next();
    if let Some(mask) = mask {
        check_mask(mask, first)?;
    }
    if family == Family::DallE2 && mask.is_none() && !images.iter().any(|i| i.has_alpha) {
        return Err(ApiError::invalid(
            "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.",
            Some("image"),
            Some("invalid_image_format"),
        ));
    }
    let request = check(&fields, model, family, first, mode)?;
    let latency = shared.config(|c| c.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    refusal(shared, id)?;
    let image_tokens = TOKENS_PER_IMAGE * images.len() as u64;
    answer(shared, &request, mode, "edit", image_tokens, id).await
}

/// What the checks need to know of one input image.
struct Input {
    size: (u32, u32),
    has_alpha: bool,
}

/// The `image` and `image[]` files, checked per family (contract 3.1). Empty when none
/// was sent; the caller answers `param: "image"`.
fn input_images(form: &Form, family: Family) -> Result<Vec<Input>, ApiError> {
    let parts: Vec<&Part> = form
        .parts
        .iter()
        .filter(|p| p.name == "image" || p.name == "image[]")
        .collect();
    let limit = if family == Family::DallE2 {
        1
    } else {
        MAX_IMAGES
    };
    if parts.len() > limit {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'image': array too long. Expected an array with maximum length {limit}, but got an array with length {} instead.",
                parts.len()
            ),
            Some("image"),
            Some("array_above_max_length"),
        ));
    }
    let mut inputs = Vec::with_capacity(parts.len());
    for part in parts {
        if !part.is_file() {
            return Err(ApiError::invalid_type(&part.name, "a file", "a string"));
        }
        let format = image::guess_format(&part.data).ok();
        let allowed = match family {
            Family::DallE2 => matches!(format, Some(ImageFormat::Png)),
            _ => matches!(
                format,
                Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)
            ),
        };
        let header = allowed.then(|| header_info(&part.data)).flatten();
        let Some(input) = header else {
            return Err(unsupported_file(part, family));
        };
        let max = if family == Family::DallE2 {
            MAX_PNG_BYTES
        } else {
            MAX_IMAGE_BYTES
        };
        if part.data.len() >= max {
            return Err(ApiError::invalid(
                format!(
                    "Invalid input image - image must be less than {} MB.",
                    max / (1024 * 1024)
                ),
                Some("image"),
                Some("image_too_large"),
            ));
        }
        if family == Family::DallE2 && input.size.0 != input.size.1 {
            return Err(ApiError::invalid(
                "Invalid input image - image must be square.",
                Some("image"),
                Some("invalid_image"),
            ));
        }
        inputs.push(input);
    }
    Ok(inputs)
}

fn unsupported_file(part: &Part, family: Family) -> ApiError {
    let declared = part
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let supported = if family == Family::DallE2 {
        "'image/png'"
    } else {
        "'image/jpeg', 'image/png', and 'image/webp'"
    };
    ApiError::invalid(
        format!(
            "Invalid file '{}': unsupported mimetype ('{declared}'). Supported file formats are {supported}.",
            part.name
        ),
        Some(&part.name),
        Some("unsupported_file_mimetype"),
    )
}

/// Size and alpha of a decodable image, read from its header.
fn header_info(data: &[u8]) -> Option<Input> {
    let decoder = image::ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    Some(Input {
        size: decoder.dimensions(),
        has_alpha: decoder.color_type().has_alpha(),
    })
}

/// The mask must be a PNG file under 4 MB with the first image's size (contract 3.1).
fn check_mask(mask: &Part, first: (u32, u32)) -> Result<(), ApiError> {
    let png = mask.is_file() && image::guess_format(&mask.data).ok() == Some(ImageFormat::Png);
    let Some(size) = png.then(|| form::dimensions(&mask.data)).flatten() else {
        return Err(ApiError::invalid(
            "Invalid mask image - mask must be a PNG file.",
            Some("mask"),
            Some("invalid_image_format"),
        ));
    };
    if mask.data.len() >= MAX_PNG_BYTES {
        return Err(ApiError::invalid(
            "Invalid mask image - mask must be less than 4 MB.",
            Some("mask"),
            Some("image_too_large"),
        ));
    }
    if size != first {
        return Err(ApiError::invalid(
            format!(
                "Invalid mask image - mask size ({}x{}) does not match image size ({}x{}).",
                size.0, size.1, first.0, first.1
            ),
            Some("mask"),
            Some("invalid_image"),
        ));
    }
    Ok(())
}
