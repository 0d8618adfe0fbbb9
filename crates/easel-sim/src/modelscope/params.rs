//! Reading and checking a submit body (contract 2.2, 2.3, 8, 12.4).
//!
//! Only what the simulator needs is read: the model, the prompt, the seed and size that
//! shape the picture, and whether an edit model got its `image_url`. Everything else is
//! left alone; the raw body is in the request log for tests to inspect. Where the real
//! service's reaction is unknown the checks are lenient, and each rejection below that is
//! an assumption says so.

use serde_json::{Map, Value};

/// Default `size` when none is sent (contract 2.2: optional).
pub const DEFAULT_SIZE: (u32, u32) = (1024, 1024);
/// Smallest and largest side accepted, the widest range in contract 2.3.
const SIDES: std::ops::RangeInclusive<u32> = 64..=2048;
/// Contract 2.2: `seed` range.
const MAX_SEED: u64 = 2_147_483_647;
/// Contract 2.2: prompts shorter than this.
const MAX_PROMPT_CHARS: usize = 2000;

/// The parts of a submit the simulator acts on.
#[derive(Clone, Debug)]
pub struct SubmitBody {
    pub model: String,
    pub prompt: String,
    pub seed: Option<u32>,
    pub width: u32,
    pub height: u32,
}

/// Parses a submit body; `Err` holds the message of the 400 answer.
pub fn parse(bytes: &[u8]) -> Result<SubmitBody, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("Invalid request body: not valid JSON ({e})"))?;
    let Value::Object(body) = value else {
        return Err("Invalid request body: expected a JSON object".to_owned());
    };
    let model = required_string(&body, "model")?;
    let prompt = required_string(&body, "prompt")?;
    // Assumption: the documented limit is enforced.
    if prompt.chars().count() >= MAX_PROMPT_CHARS {
        return Err(format!(
            "prompt must be shorter than {MAX_PROMPT_CHARS} characters"
        ));
    }
    let (width, height) = size(&body)?;
    let seed = seed(&body)?;
    if is_edit_model(&model) && !has_image_url(&body) {
        return Err("image_url is required".to_owned());
    }
    Ok(SubmitBody {
        model,
        prompt,
        seed,
        width,
        height,
    })
}

/// Contract 12.4: edit models are the ones whose id names `Edit` or `Kontext`.
pub fn is_edit_model(model: &str) -> bool {
    model.contains("Edit") || model.contains("Kontext")
}

/// A present, non-null field; clients send `null` for unset fields and it works
/// (contract 2.2).
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

fn required_string(body: &Map<String, Value>, name: &str) -> Result<String, String> {
    match field(body, name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None => Err(format!("Missing required parameter: {name}")),
        Some(_) => Err(format!("Invalid parameter {name}: expected a string")),
    }
}

/// `"<W>x<H>"`; missing, `null` or `""` (contract 2.2) mean the default. Assumption:
/// a malformed or out-of-range size is rejected rather than clamped.
fn size(body: &Map<String, Value>) -> Result<(u32, u32), String> {
    let text = match field(body, "size") {
        None => return Ok(DEFAULT_SIZE),
        Some(Value::String(s)) if s.is_empty() => return Ok(DEFAULT_SIZE),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(format!(
                "Invalid size {other}: expected \"<width>x<height>\""
            ));
        }
    };
    let parsed = text
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if SIDES.contains(&w) && SIDES.contains(&h) => Ok((w, h)),
        _ => Err(format!(
            "Invalid size '{text}': expected \"<width>x<height>\" with each side between {} and {}",
            SIDES.start(),
            SIDES.end()
        )),
    }
}

/// Assumption: a seed that is not an integer in range is rejected.
fn seed(body: &Map<String, Value>) -> Result<Option<u32>, String> {
    match field(body, "seed") {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|s| *s <= MAX_SEED)
            .and_then(|s| u32::try_from(s).ok())
            .map(Some)
            .ok_or_else(|| format!("Invalid seed {v}: expected an integer from 0 to {MAX_SEED}")),
    }
}

/// `image_url` as a non-empty string or a non-empty array of them (contract 8).
fn has_image_url(body: &Map<String, Value>) -> bool {
    match field(body, "image_url") {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.is_empty()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(v: Value) -> Result<SubmitBody, String> {
        parse(v.to_string().as_bytes())
    }

    #[test]
    fn defaults_and_null_fields() {
        let b = parse_json(serde_json::json!({
            "model": "Qwen/Qwen-Image", "prompt": "cat", "size": null, "steps": null, "seed": null
        }))
        .expect("valid");
        assert_eq!((b.width, b.height), DEFAULT_SIZE);
        assert_eq!(b.seed, None);
        let b =
            parse_json(serde_json::json!({"model": "m", "prompt": "p", "size": ""})).expect("ok");
        assert_eq!((b.width, b.height), DEFAULT_SIZE);
    }

    #[test]
    fn size_and_seed_are_read() {
        let b = parse_json(serde_json::json!({
            "model": "m", "prompt": "p", "size": "1664x928", "seed": 2147483647u32
        }))
        .expect("valid");
        assert_eq!(
            (b.width, b.height, b.seed),
            (1664, 928, Some(2_147_483_647))
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |v: Value| parse_json(v).expect_err("must be rejected");
        assert!(err(serde_json::json!({"prompt": "p"})).contains("model"));
        assert!(err(serde_json::json!({"model": "m"})).contains("prompt"));
        assert!(err(serde_json::json!({"model": "m", "prompt": " "})).contains("prompt"));
        assert!(
            err(serde_json::json!({"model": "m", "prompt": "p", "size": "1024*1024"}))
                .contains("size")
        );
        assert!(
            err(serde_json::json!({"model": "m", "prompt": "p", "size": "32x32"})).contains("size")
        );
        assert!(err(serde_json::json!({"model": "m", "prompt": "p", "seed": -1})).contains("seed"));
        assert!(
            err(serde_json::json!({"model": "m", "prompt": "x".repeat(2000)})).contains("prompt")
        );
        assert!(parse(b"not json").expect_err("not json").contains("JSON"));
        assert!(parse(b"[1]").expect_err("array").contains("object"));
    }

    #[test]
    fn edit_models_need_an_image_url() {
        for model in [
            "Qwen/Qwen-Image-Edit-2509",
            "black-forest-labs/FLUX.1-Kontext-dev",
        ] {
            let missing = parse_json(serde_json::json!({"model": model, "prompt": "p"}));
            assert_eq!(missing.expect_err("rejected"), "image_url is required");
            let empty =
                parse_json(serde_json::json!({"model": model, "prompt": "p", "image_url": []}));
            assert!(empty.is_err());
            let one =
                serde_json::json!({"model": model, "prompt": "p", "image_url": "https://x/a.png"});
            assert!(parse_json(one).is_ok());
            let two = serde_json::json!({"model": model, "prompt": "p", "image_url": ["https://x/a.png", "data:image/png;base64,AA"]});
            assert!(parse_json(two).is_ok());
        }
        assert!(parse_json(serde_json::json!({"model": "Qwen/Qwen-Image", "prompt": "p"})).is_ok());
    }
}
