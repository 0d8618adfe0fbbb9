//! Model families and their rules (contract sections 2.1, 3.1 and 6).

use super::wire::ApiError;

/// The families whose request rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `gpt-image-1`, `-1-mini`, `-1.5`, `-2`: `b64_json` only, no `response_format`.
    GptImage {
        /// `gpt-image-2`: arbitrary sizes, no transparent background.
        v2: bool,
    },
    /// `dall-e-3`: `n = 1`, three sizes, `revised_prompt`, URLs by default.
    DallE3,
    /// `dall-e-2`: square sizes, `n` up to 10.
    DallE2,
    /// Any other id, as compatible providers use ("Qwen/Qwen-Image", …): OpenAI-style
    /// fields taken at face value.
    Other,
}

/// Fields the generations endpoint knows, per family (contract 2.1).
const GPT_GENERATE: &[&str] = &[
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "output_format",
    "output_compression",
    "background",
    "moderation",
    "user",
    "stream",
    "partial_images",
];
const DALLE3_GENERATE: &[&str] = &[
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "response_format",
    "style",
    "user",
];
const DALLE2_GENERATE: &[&str] = &[
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "response_format",
    "user",
];

/// Parts the edits endpoint knows, per family (contract 3.1).
const GPT_EDIT: &[&str] = &[
    "image",
    "image[]",
    "mask",
    "prompt",
    "model",
    "n",
    "size",
    "quality",
    "output_format",
    "output_compression",
    "background",
    "input_fidelity",
    "moderation",
    "user",
    "stream",
    "partial_images",
];
const DALLE2_EDIT: &[&str] = &[
    "image",
    "mask",
    "prompt",
    "model",
    "n",
    "size",
    "response_format",
    "user",
];

/// Fields only GPT image models take; their presence makes the default model a GPT
/// image model instead of `dall-e-2` (contract 2.1).
const GPT_ONLY: &[&str] = &[
    "output_format",
    "output_compression",
    "background",
    "moderation",
    "stream",
    "partial_images",
];

/// The model a generation without `model` runs on.
pub fn default_generation_model(has_field: impl Fn(&str) -> bool) -> &'static str {
    if GPT_ONLY.iter().any(|f| has_field(f)) {
        "gpt-image-1"
    } else {
        "dall-e-2"
    }
}

/// The model an edit without `model` runs on: the newest SDK documents `gpt-image-1.5`
/// (contract 3.1).
pub const DEFAULT_EDIT_MODEL: &str = "gpt-image-1.5";

impl Family {
    /// The family of model id `model`.
    pub fn of(model: &str) -> Family {
        if let Some(rest) = model.strip_prefix("gpt-image-") {
            Family::GptImage {
                v2: rest == "2" || rest.starts_with("2-"),
            }
        } else if model == "dall-e-3" {
            Family::DallE3
        } else if model == "dall-e-2" {
            Family::DallE2
        } else {
            Family::Other
        }
    }

    pub fn is_gpt_image(self) -> bool {
        matches!(self, Family::GptImage { .. })
    }

    /// The first field in `names` this family does not know on generations, checking
    /// `response_format` and `style` first (the ones clients get wrong).
    pub fn unknown_generation_field<'a>(self, names: &[&'a str]) -> Option<&'a str> {
        let known = match self {
            Family::GptImage { .. } => GPT_GENERATE,
            Family::DallE3 => DALLE3_GENERATE,
            Family::DallE2 => DALLE2_GENERATE,
            Family::Other => return None,
        };
        first_unknown(known, names)
    }

    /// The first part name in `names` this family does not know on edits.
    pub fn unknown_edit_field<'a>(self, names: &[&'a str]) -> Option<&'a str> {
        let known = match self {
            Family::GptImage { .. } => GPT_EDIT,
            Family::DallE2 => DALLE2_EDIT,
            Family::DallE3 | Family::Other => return None,
        };
        first_unknown(known, names)
    }

    /// Longest prompt accepted (contract 2.1).
    pub fn max_prompt(self) -> usize {
        match self {
            Family::GptImage { .. } | Family::Other => 32_000,
            Family::DallE3 => 4_000,
            Family::DallE2 => 1_000,
        }
    }

    /// Checks `n` (contract 2.1, 6.2).
    pub fn check_n(self, n: i64) -> Result<u32, ApiError> {
        if self == Family::DallE3 && n != 1 {
            return Err(ApiError::invalid(
                format!("Invalid 'n': dall-e-3 only supports n=1, but got {n}."),
                Some("n"),
                Some("invalid_value"),
            ));
        }
        if n < 1 {
            return Err(ApiError::invalid(
                format!(
                    "Invalid 'n': integer below minimum value. Expected a value >= 1, but got {n} instead."
                ),
                Some("n"),
                Some("integer_below_min_value"),
            ));
        }
        if n > 10 {
            return Err(ApiError::invalid(
                format!(
                    "Invalid 'n': integer above maximum value. Expected a value <= 10, but got {n} instead."
                ),
                Some("n"),
                Some("integer_above_max_value"),
            ));
        }
        // 1..=10 fits.
        Ok(n as u32)
    }

    /// Resolves `size` to pixels (contract 2.1). `fallback` is what `auto` or no size
    /// means: the first input image's size on edits, 1024x1024 otherwise.
    pub fn resolve_size(
        self,
        size: Option<&str>,
        fallback: (u32, u32),
    ) -> Result<(u32, u32), ApiError> {
        let size = size.filter(|s| *s != "auto" || !self.takes_auto());
        let Some(size) = size else {
            return Ok(match self {
                Family::DallE2 | Family::DallE3 => (1024, 1024),
                _ => fallback,
            });
        };
        let (w, h) = parse_size(size).ok_or_else(ApiError::invalid_size)?;
        let allowed = match self {
            Family::GptImage { v2 } => {
                matches!((w, h), (1024, 1024) | (1536, 1024) | (1024, 1536))
                    || (v2 && free_size_ok(w, h))
            }
            Family::DallE3 => matches!((w, h), (1024, 1024) | (1792, 1024) | (1024, 1792)),
            Family::DallE2 => w == h && matches!(w, 256 | 512 | 1024),
            Family::Other => w <= 4096 && h <= 4096,
        };
        if allowed {
            Ok((w, h))
        } else {
            Err(ApiError::invalid_size())
        }
    }

    /// Whether `size: "auto"` is a value of this family.
    fn takes_auto(self) -> bool {
        matches!(self, Family::GptImage { .. } | Family::Other)
    }

    /// Allowed `quality` values, or `None` when any is taken.
    pub fn qualities(self) -> Option<&'static [&'static str]> {
        match self {
            Family::GptImage { .. } => Some(&["auto", "high", "medium", "low", "standard"]),
            Family::DallE3 => Some(&["standard", "hd"]),
            Family::DallE2 => Some(&["standard"]),
            Family::Other => None,
        }
    }

    /// What `quality` resolves to when absent or `auto`.
    pub fn default_quality(self) -> &'static str {
        match self {
            Family::GptImage { .. } | Family::Other => "medium",
            Family::DallE2 | Family::DallE3 => "standard",
        }
    }
}

fn first_unknown<'a>(known: &[&str], names: &[&'a str]) -> Option<&'a str> {
    let unknown = |name: &str| !known.contains(&name);
    ["response_format", "style"]
        .into_iter()
        .find(|first| names.contains(first) && unknown(first))
        .and_then(|first| names.iter().find(|n| **n == first).copied())
        .or_else(|| names.iter().copied().find(|name| unknown(name)))
}

/// `gpt-image-2`'s free sizes: both sides multiples of 16, aspect between 1:3 and 3:1,
/// at most 3840x2160 worth of pixels and 3840 on the long side.
fn free_size_ok(w: u32, h: u32) -> bool {
    let (long, short) = (w.max(h), w.min(h));
    w.is_multiple_of(16)
        && h.is_multiple_of(16)
        && long <= short * 3
        && long <= 3840
        && u64::from(w) * u64::from(h) <= 3840 * 2160
}

/// `"<W>x<H>"` with both sides positive.
pub fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once('x')?;
    let w: u32 = w.parse().ok()?;
    let h: u32 = h.parse().ok()?;
    (w > 0 && h > 0).then_some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(Family::of("gpt-image-1"), Family::GptImage { v2: false });
        assert_eq!(Family::of("gpt-image-2"), Family::GptImage { v2: true });
        assert_eq!(Family::of("dall-e-3"), Family::DallE3);
        assert_eq!(Family::of("Qwen/Qwen-Image"), Family::Other);
    }

    #[test]
    fn sizes() {
        let gpt = Family::GptImage { v2: false };
        assert_eq!(
            gpt.resolve_size(Some("auto"), (1024, 1024)).ok(),
            Some((1024, 1024))
        );
        assert!(gpt.resolve_size(Some("512x512"), (1024, 1024)).is_err());
        let v2 = Family::GptImage { v2: true };
        assert_eq!(
            v2.resolve_size(Some("128x64"), (1, 1)).ok(),
            Some((128, 64))
        );
        assert!(v2.resolve_size(Some("400x100"), (1, 1)).is_err());
        assert!(Family::DallE3.resolve_size(Some("auto"), (1, 1)).is_err());
        assert_eq!(
            Family::DallE2.resolve_size(None, (1, 1)).ok(),
            Some((1024, 1024))
        );
        assert_eq!(
            Family::Other.resolve_size(Some("96x64"), (1, 1)).ok(),
            Some((96, 64))
        );
    }

    #[test]
    fn response_format_is_reported_first() {
        let gpt = Family::GptImage { v2: false };
        assert_eq!(
            gpt.unknown_generation_field(&["seed", "prompt", "response_format"]),
            Some("response_format")
        );
        assert_eq!(gpt.unknown_generation_field(&["seed"]), Some("seed"));
        assert_eq!(Family::Other.unknown_generation_field(&["seed"]), None);
    }
}
