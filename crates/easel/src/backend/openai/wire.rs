//! Request and response shapes of OpenAI-compatible image APIs
//! (docs/contracts/openai-images.md §2, §3, §7), per dialect.

use serde_json::{Map, Value, json};

use crate::config::Dialect;
use crate::request::GenerateRequest;

/// `params` keys each dialect passes through as they are.
pub const OPENAI_PARAMS: &[&str] = &[
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "style",
    "user",
    "input_fidelity",
];
pub const SILICONFLOW_PARAMS: &[&str] = &["cfg", "guidance_scale", "prompt_enhancement"];

pub fn allowed_params(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Openai => OPENAI_PARAMS,
        Dialect::Siliconflow => SILICONFLOW_PARAMS,
    }
}

/// DALL·E answers with a URL unless asked; GPT image models reject the field (§6).
fn is_dalle(model: &str) -> bool {
    model.starts_with("dall-e")
}

/// Standard request fields a dialect cannot carry; reported, never silently dropped.
pub fn unsupported(dialect: Dialect, req: &GenerateRequest) -> Vec<&'static str> {
    let mut out = Vec::new();
    match dialect {
        Dialect::Openai => {
            if req
                .negative_prompt
                .as_deref()
                .is_some_and(|n| !n.is_empty())
            {
                out.push("negative_prompt");
            }
            if req.steps.is_some() {
                out.push("steps");
            }
            if req.guidance.is_some() {
                out.push("guidance");
            }
        }
        Dialect::Siliconflow => {}
    }
    if req.loras.is_some() {
        out.push("loras");
    }
    out
}

/// The JSON body of `POST /images/generations`.
pub fn generation_body(dialect: Dialect, req: &GenerateRequest, model: &str) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("prompt".into(), json!(req.prompt));
    match dialect {
        Dialect::Openai => {
            body.insert("n".into(), json!(req.count));
            body.insert("size".into(), json!(req.size.to_string()));
            if is_dalle(model) {
                // One answer instead of a second download of a 60-minute URL.
                body.insert("response_format".into(), json!("b64_json"));
            }
        }
        Dialect::Siliconflow => {
            body.insert("image_size".into(), json!(req.size.to_string()));
            body.insert("batch_size".into(), json!(req.count));
            body.insert("seed".into(), json!(req.seed));
            if let Some(n) = req.negative_prompt.as_deref().filter(|n| !n.is_empty()) {
                body.insert("negative_prompt".into(), json!(n));
            }
            if let Some(steps) = req.steps {
                body.insert("num_inference_steps".into(), json!(steps));
            }
            if let Some(g) = req.guidance {
                body.insert("guidance_scale".into(), json!(g));
            }
        }
    }
    for key in allowed_params(dialect) {
        if let Some(v) = req.params.get(*key) {
            body.insert((*key).to_string(), v.clone());
        }
    }
    Value::Object(body)
}

/// One image of an answer: inline bytes (base64) or a URL to download.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnswerImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads `data[]` (OpenAI, gateways) or `images[]` (SiliconFlow); `""` counts as absent
/// (relays send `"b64_json": ""` beside a URL).
pub fn parse_images(answer: &Value) -> Vec<AnswerImage> {
    let list = answer
        .get("data")
        .or_else(|| answer.get("images"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|item| AnswerImage {
            b64: non_empty(item.get("b64_json")).or_else(|| non_empty(item.get("base64"))),
            url: non_empty(item.get("url")),
            revised_prompt: non_empty(item.get("revised_prompt")),
        })
        .filter(|i| i.b64.is_some() || i.url.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_shape_is_read() {
        let openai =
            json!({"created": 1, "data": [{"b64_json": "aGk=", "revised_prompt": "a fox"}]});
        assert_eq!(parse_images(&openai)[0].b64.as_deref(), Some("aGk="));
        assert_eq!(
            parse_images(&openai)[0].revised_prompt.as_deref(),
            Some("a fox")
        );
        let relay =
            json!({"data": [{"url": "https://x/y.png", "b64_json": "", "revised_prompt": ""}]});
        let r = &parse_images(&relay)[0];
        assert_eq!(
            (
                r.b64.as_deref(),
                r.url.as_deref(),
                r.revised_prompt.as_deref()
            ),
            (None, Some("https://x/y.png"), None)
        );
        let sf = json!({"images": [{"url": "https://s/a.png"}], "seed": 3});
        assert_eq!(parse_images(&sf)[0].url.as_deref(), Some("https://s/a.png"));
        assert!(parse_images(&json!({"data": [{}]})).is_empty());
    }
}
