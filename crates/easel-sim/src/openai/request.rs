//! The checks generations and edits share (contract 2.1, 3.1, 6), and the request they
//! leave behind once everything passed.

use super::admit::known_model;
use super::config::ProviderMode;
use super::fields::Fields;
use super::models::Family;
use super::render::{FORMATS, Format};
use super::state::Shared;
use super::wire::ApiError;

/// How the images travel back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `data[].b64_json`.
    B64,
    /// `data[].url` on the simulator's own host.
    Url,
}

/// A request that passed every check.
#[derive(Clone, Debug)]
pub struct ImageRequest {
    pub model: String,
    pub family: Family,
    pub prompt: String,
    pub n: u32,
    pub width: u32,
    pub height: u32,
    pub format: Format,
    pub delivery: Delivery,
    /// `quality` with `auto` resolved.
    pub quality: String,
    /// `background` with `auto` resolved.
    pub background: String,
}

/// Checks `model` against `known_models` and returns its family.
pub fn family_of(shared: &Shared, model: &str) -> Result<Family, ApiError> {
    known_model(shared, model)?;
    Ok(Family::of(model))
}

/// Checks the fields every image request has, in OpenAI's order: prompt, n, size,
/// quality, response_format, output_format, background, output_compression. `fallback`
/// is the size `auto` (or no size) means.
pub fn check(
    fields: &Fields,
    model: String,
    family: Family,
    fallback: (u32, u32),
    mode: &ProviderMode,
) -> Result<ImageRequest, ApiError> {
    let prompt = fields.required_string("prompt")?;
    let length = prompt.chars().count();
    let max = family.max_prompt();
    if length > max {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'prompt': string too long. Expected a string with maximum length {max}, but got a string with length {length} instead."
            ),
            Some("prompt"),
            Some("string_above_max_length"),
        ));
    }
    let n = family.check_n(fields.integer("n")?.unwrap_or(1))?;
    let (width, height) = family.resolve_size(fields.string("size")?, fallback)?;
    let quality = match family.qualities() {
        Some(allowed) => fields.choice("quality", allowed)?,
        None => fields.string("quality")?,
    };
    let quality = match quality {
        None | Some("auto") => family.default_quality(),
        Some(q) => q,
    };
    let response_format = fields.choice("response_format", &["url", "b64_json"])?;
    let format = match family {
        Family::GptImage { .. } | Family::Other => fields
            .choice("output_format", FORMATS)?
            .and_then(Format::named)
            .unwrap_or(Format::Png),
        Family::DallE2 | Family::DallE3 => Format::Png,
    };
    let background = background(fields, family, format)?;
    if let Some(level) = fields.integer("output_compression")?
        && !(0..=100).contains(&level)
    {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'output_compression': expected a value between 0 and 100, but got {level} instead."
            ),
            Some("output_compression"),
            Some("invalid_value"),
        ));
    }
    let delivery = match (mode, family, response_format) {
        (ProviderMode::Relay, _, _) => Delivery::Url,
        (_, Family::GptImage { .. }, _) => Delivery::B64,
        (_, _, Some("b64_json")) => Delivery::B64,
        (_, _, Some(_)) => Delivery::Url,
        (_, Family::DallE2 | Family::DallE3, None) => Delivery::Url,
        (_, Family::Other, None) => Delivery::B64,
    };
    Ok(ImageRequest {
        model,
        family,
        prompt: prompt.to_owned(),
        n,
        width,
        height,
        format,
        delivery,
        quality: quality.to_owned(),
        background,
    })
}

/// `background` (GPT image models): `transparent` needs PNG or WebP and is not offered
/// by `gpt-image-2` (contract 2.1). Resolves `auto` to `opaque`.
fn background(fields: &Fields, family: Family, format: Format) -> Result<String, ApiError> {
    let Family::GptImage { v2 } = family else {
        return Ok("opaque".to_owned());
    };
    let value = fields.choice("background", &["transparent", "opaque", "auto"])?;
    if value == Some("transparent") {
        if v2 {
            return Err(ApiError::invalid(
                "Transparent background is not supported for this model.",
                Some("background"),
                Some("invalid_value"),
            ));
        }
        if format == Format::Jpeg {
            return Err(ApiError::invalid(
                "Transparent background is not supported for the output format 'jpeg'. Use 'png' or 'webp'.",
                Some("background"),
                Some("invalid_value"),
            ));
        }
        return Ok("transparent".to_owned());
    }
    Ok("opaque".to_owned())
}
