//! What a caller asks for, independent of backend, and the checks every backend shares.
//! Backend-specific limits (sizes per model family) live with the backend.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Largest seed the backends accept (ModelScope: 0 to 2^31-1).
pub const MAX_SEED: u64 = (1 << 31) - 1;
pub const MAX_PROMPT_CHARS: usize = 2000;
pub const MAX_COUNT: u32 = 8;
/// Images per call when the caller names no count.
pub const DEFAULT_COUNT: u32 = 1;
/// Size when the caller names none.
pub const DEFAULT_SIZE: &str = "1024x1024";
/// How long a generating call waits for its job before answering with a job id, unless the
/// caller or the configuration says otherwise.
pub const DEFAULT_WAIT_SECONDS: u64 = 45;
/// The longest any call may wait (a job that takes longer keeps running).
pub const MAX_WAIT_SECONDS: u64 = 600;

/// A request that can be refused before anything is sent: names the field, the reason and
/// the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}. {fix}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub reason: String,
    pub fix: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        InvalidInput {
            field,
            reason: reason.into(),
            fix: fix.into(),
        }
    }
}

/// LoRAs in ModelScope's form: one repo id, or up to six ids with weights summing to 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Loras {
    /// One LoRA repo id, e.g. "owner/lora-name".
    One(String),
    /// Several LoRA repo ids with weights that sum to 1.0.
    Weighted(BTreeMap<String, f64>),
}

/// Width and height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl Size {
    /// Parses `WxH` (also `X` or `×`).
    pub fn parse(text: &str) -> Result<Size, InvalidInput> {
        let bad = || {
            InvalidInput::new(
                "size",
                format!("{text:?} is not WIDTHxHEIGHT"),
                "Write it like \"1024x1024\" or \"1664x928\".",
            )
        };
        let t = text.trim().to_ascii_lowercase().replace('×', "x");
        let (w, h) = t.split_once('x').ok_or_else(bad)?;
        let width = w.trim().parse::<u32>().map_err(|_| bad())?;
        let height = h.trim().parse::<u32>().map_err(|_| bad())?;
        if width == 0 || height == 0 {
            return Err(bad());
        }
        Ok(Size { width, height })
    }
}

/// A source image of an edit, resolved by the service: a local file inside the output or
/// an input root, a public URL, or both (an easel image that came from a URL).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// What the caller wrote (path, resource URI or URL), for the result.
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A generation request after parsing, with the seed already chosen so that it can be
/// stored and replayed exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Model id; `None` lets the backend (or the ComfyUI workflow) choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub size: Size,
    /// Seed of the first image; image `i` uses `seed + i` (wrapping within the range).
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loras: Option<Loras>,
    pub count: u32,
    /// ComfyUI workflow name; `None` uses the configured default workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Backend-specific parameters (ComfyUI workflow parameters, OpenAI quality, …).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Images to edit; empty for text-to-image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Where to edit (transparent pixels), for backends that take a mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Source>,
}

impl GenerateRequest {
    /// Whether this is an edit of source images.
    pub fn is_edit(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The model for people: the id, else the workflow that decides it.
    pub fn describe_model(&self) -> String {
        match (&self.model, &self.workflow) {
            (Some(m), _) => m.clone(),
            (None, Some(w)) => format!("workflow {w}"),
            (None, None) => "backend default".to_string(),
        }
    }

    /// Seed of image `index` of this request: distinct per image, always in range.
    pub fn seed_for(&self, index: u32) -> u64 {
        (self.seed + u64::from(index)) % (MAX_SEED + 1)
    }

    /// Checks shared by every backend.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_text("prompt", &self.prompt, true)?;
        if let Some(n) = &self.negative_prompt {
            check_text("negative_prompt", n, false)?;
        }
        if self.seed > MAX_SEED {
            return Err(InvalidInput::new(
                "seed",
                format!("{} is outside 0..={MAX_SEED}", self.seed),
                "Pick a seed from 0 to 2147483647, or leave it out for a random one.",
            ));
        }
        if let Some(steps) = self.steps
            && !(1..=100).contains(&steps)
        {
            return Err(InvalidInput::new(
                "steps",
                format!("{steps} is outside 1..=100"),
                "Use 1 to 100 steps (20-50 is typical), or leave it out for the model default.",
            ));
        }
        if let Some(g) = self.guidance
            && !(1.5..=20.0).contains(&g)
        {
            return Err(InvalidInput::new(
                "guidance",
                format!("{g} is outside 1.5..=20"),
                "Use a guidance from 1.5 to 20 (3.5-7 is typical), or leave it out.",
            ));
        }
        if !(1..=MAX_COUNT).contains(&self.count) {
            return Err(InvalidInput::new(
                "count",
                format!("{} is outside 1..={MAX_COUNT}", self.count),
                format!("Ask for 1 to {MAX_COUNT} images per call; call again for more."),
            ));
        }
        if let Some(loras) = &self.loras {
            check_loras(loras)?;
        }
        // Names are compared and stored as they are; a control character in one is never
        // a real model or workflow (and PostgreSQL cannot store a NUL).
        for (field, name) in [("model", &self.model), ("workflow", &self.workflow)] {
            if let Some(name) = name
                && name.chars().any(char::is_control)
            {
                return Err(InvalidInput::new(
                    field,
                    "contains a control character",
                    format!("Give the {field} name as it is listed, without control characters."),
                ));
            }
        }
        Ok(())
    }
}

fn check_text(field: &'static str, text: &str, required: bool) -> Result<(), InvalidInput> {
    if required && text.trim().is_empty() {
        return Err(InvalidInput::new(
            field,
            "is empty",
            "Describe the image to make, e.g. \"a golden cat in a garden, watercolor\".",
        ));
    }
    let chars = text.chars().count();
    if chars >= MAX_PROMPT_CHARS {
        return Err(InvalidInput::new(
            field,
            format!(
                "has {chars} characters; the limit is {}",
                MAX_PROMPT_CHARS - 1
            ),
            "Shorten it: keep the subject, style and key details.",
        ));
    }
    if text.contains('\0') {
        return Err(InvalidInput::new(
            field,
            "contains a NUL character",
            "Remove control characters from the text.",
        ));
    }
    Ok(())
}

fn check_loras(loras: &Loras) -> Result<(), InvalidInput> {
    match loras {
        Loras::One(id) if id.trim().is_empty() => Err(InvalidInput::new(
            "loras",
            "is an empty LoRA id",
            "Give a LoRA repo id like \"owner/name\", or leave loras out.",
        )),
        Loras::One(_) => Ok(()),
        Loras::Weighted(map) => {
            if map.is_empty() || map.len() > 6 {
                return Err(InvalidInput::new(
                    "loras",
                    format!("has {} entries; 1 to 6 are allowed", map.len()),
                    "Give at most 6 LoRAs as {\"owner/name\": weight}.",
                ));
            }
            let sum: f64 = map.values().sum();
            if map.values().any(|w| !(0.0..=1.0).contains(w)) || (sum - 1.0).abs() > 0.01 {
                return Err(InvalidInput::new(
                    "loras",
                    format!("weights sum to {sum:.3}"),
                    "Make the weights each 0..1 and together 1.0, e.g. {\"a/x\": 0.6, \"b/y\": 0.4}.",
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> GenerateRequest {
        GenerateRequest {
            prompt: "a cat".into(),
            negative_prompt: None,
            model: Some("Qwen/Qwen-Image".into()),
            size: Size {
                width: 1024,
                height: 1024,
            },
            seed: 1,
            steps: None,
            guidance: None,
            loras: None,
            count: 1,
            workflow: None,
            params: serde_json::Map::new(),
            sources: Vec::new(),
            mask: None,
        }
    }

    #[test]
    fn size_parses_and_refuses() {
        assert_eq!(
            Size::parse("1664X928").expect("ok"),
            Size {
                width: 1664,
                height: 928
            }
        );
        assert_eq!(Size::parse("512×512").expect("ok").width, 512);
        for bad in ["1024", "axb", "0x5", "-1x3", ""] {
            assert_eq!(Size::parse(bad).expect_err(bad).field, "size");
        }
    }

    #[test]
    fn each_range_names_its_field() {
        let cases: Vec<(GenerateRequest, &str)> = vec![
            (
                GenerateRequest {
                    prompt: " ".into(),
                    ..req()
                },
                "prompt",
            ),
            (
                GenerateRequest {
                    prompt: "x".repeat(2000),
                    ..req()
                },
                "prompt",
            ),
            (
                GenerateRequest {
                    negative_prompt: Some("y".repeat(2500)),
                    ..req()
                },
                "negative_prompt",
            ),
            (
                GenerateRequest {
                    seed: MAX_SEED + 1,
                    ..req()
                },
                "seed",
            ),
            (
                GenerateRequest {
                    steps: Some(0),
                    ..req()
                },
                "steps",
            ),
            (
                GenerateRequest {
                    steps: Some(101),
                    ..req()
                },
                "steps",
            ),
            (
                GenerateRequest {
                    guidance: Some(1.4),
                    ..req()
                },
                "guidance",
            ),
            (
                GenerateRequest {
                    guidance: Some(20.5),
                    ..req()
                },
                "guidance",
            ),
            (GenerateRequest { count: 0, ..req() }, "count"),
            (GenerateRequest { count: 9, ..req() }, "count"),
            (
                GenerateRequest {
                    loras: Some(Loras::Weighted(BTreeMap::from([("a/b".into(), 0.5)]))),
                    ..req()
                },
                "loras",
            ),
        ];
        for (r, field) in cases {
            let e = r.validate().expect_err(field);
            assert_eq!(e.field, field, "{e}");
            assert!(!e.fix.is_empty());
        }
        assert!(req().validate().is_ok());
    }

    #[test]
    fn seeds_are_distinct_and_in_range() {
        let r = GenerateRequest {
            seed: MAX_SEED,
            count: 3,
            ..req()
        };
        assert_eq!(r.seed_for(0), MAX_SEED);
        assert_eq!(r.seed_for(1), 0);
        assert_eq!(r.seed_for(2), 1);
    }
}
