//! Parameters a workflow accepts, the standard ones every generation has, and the checks a
//! value passes before it is written into a graph.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Number, Value};

use crate::request::InvalidInput;

/// The type of a parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    String,
    Int,
    Float,
    Bool,
    /// The name of an image already uploaded to ComfyUI (what `LoadImage.image` holds).
    Image,
}

impl ParamKind {
    pub fn parse(word: &str) -> Option<ParamKind> {
        Some(match word {
            "string" | "str" | "text" => ParamKind::String,
            "int" | "integer" => ParamKind::Int,
            "float" | "number" => ParamKind::Float,
            "bool" | "boolean" => ParamKind::Bool,
            "image" => ParamKind::Image,
            _ => return None,
        })
    }

    pub fn word(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Int => "int",
            ParamKind::Float => "float",
            ParamKind::Bool => "bool",
            ParamKind::Image => "image",
        }
    }

    /// The kind a literal in the graph has, so that a marked input keeps its type.
    pub fn of_literal(value: &Value) -> Option<ParamKind> {
        match value {
            Value::String(_) => Some(ParamKind::String),
            Value::Bool(_) => Some(ParamKind::Bool),
            Value::Number(n) if n.is_f64() => Some(ParamKind::Float),
            Value::Number(_) => Some(ParamKind::Int),
            _ => None,
        }
    }

    /// Whether a parameter of this kind may be bound where `other` was expected: an int
    /// literal (`"cfg": 7`) can hold a float parameter, since exports drop the ".0".
    pub fn fits(self, slot: ParamKind) -> bool {
        self == slot
            || (self == ParamKind::Float && slot == ParamKind::Int)
            || (self == ParamKind::Image && slot == ParamKind::String)
    }
}

/// How a parameter reached an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BindingVia {
    /// A `{{name}}` placeholder in the input's value.
    Placeholder,
    /// A `$name.input` token in the node's title.
    TitleMarker,
    /// Found by following the sampler's links.
    Detected,
}

/// One node input a parameter writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Binding {
    pub node_id: String,
    pub input: String,
    pub via: BindingVia,
}

/// A parameter a workflow accepts.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub description: String,
    /// Used when the caller gives no value; `None` means the caller must give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Value>>,
    /// One of the parameters every generation has (prompt, seed, size, …), filled from the
    /// request itself rather than from workflow-specific arguments.
    pub standard: bool,
    pub bindings: Vec<Binding>,
}

impl ParamSpec {
    /// A parameter with the standard name's kind, bounds and description when `name` is
    /// standard, or a plain one of `kind` otherwise.
    pub fn new(name: &str, kind: ParamKind) -> ParamSpec {
        let std = standard(name);
        let (min, max) = std.map_or((None, None), |s| (s.min, s.max));
        ParamSpec {
            name: name.to_string(),
            kind: std.map_or(kind, |s| s.kind),
            description: std.map_or_else(String::new, |s| s.description.to_string()),
            default: None,
            min,
            max,
            choices: None,
            standard: std.is_some(),
            bindings: Vec::new(),
        }
    }

    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// Checks and converts a caller's value (see the module docs for the coercion rules).
    pub fn coerce(&self, value: &Value) -> Result<Value, InvalidInput> {
        let v = coerce_kind(self.kind, value).map_err(|reason| self.invalid(reason))?;
        self.check_bounds(&v)?;
        Ok(v)
    }

    fn check_bounds(&self, v: &Value) -> Result<(), InvalidInput> {
        if let Some(x) = v.as_f64() {
            let below = self.min.is_some_and(|m| x < m);
            let above = self.max.is_some_and(|m| x > m);
            if below || above {
                let range = format!(
                    "{}..={}",
                    self.min.map_or("".into(), fmt_num),
                    self.max.map_or("".into(), fmt_num)
                );
                return Err(self.invalid_with(
                    format!("{v} is outside {range}"),
                    format!("Give a value in {range}."),
                ));
            }
        }
        if let Some(choices) = &self.choices
            && !choices.iter().any(|c| same(c, v))
        {
            let list: Vec<String> = choices.iter().map(Value::to_string).collect();
            return Err(self.invalid_with(
                format!("{v} is not one of the allowed values"),
                format!("Use one of: {}.", list.join(", ")),
            ));
        }
        Ok(())
    }

    fn invalid(&self, reason: String) -> InvalidInput {
        let fix = match self.kind {
            ParamKind::String => "Give text (a JSON string).".to_string(),
            ParamKind::Int => "Give a whole number, e.g. 20.".to_string(),
            ParamKind::Float => "Give a number, e.g. 3.5.".to_string(),
            ParamKind::Bool => "Give true or false.".to_string(),
            ParamKind::Image => "Give an image to use for it.".to_string(),
        };
        self.invalid_with(reason, fix)
    }

    /// An [`InvalidInput`] naming this parameter. Its `field` must be `'static`, so a
    /// workflow-specific parameter is reported as field "params" with its name in the
    /// reason.
    pub fn invalid_with(&self, reason: impl Into<String>, fix: impl Into<String>) -> InvalidInput {
        let reason = reason.into();
        match field_name(&self.name) {
            Some(field) => InvalidInput::new(field, reason, fix),
            None => InvalidInput::new("params", format!("{:?} {reason}", self.name), fix),
        }
    }
}

/// Numbers compare by value (a choice 1 matches 1.0); everything else exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Converts `value` to `kind`, or says why it cannot. Strict about JSON types, with two
/// allowances for clients that stringify arguments: numeric and boolean strings are read as
/// numbers and booleans; an integral float (20.0) is accepted as an int.
pub fn coerce_kind(kind: ParamKind, value: &Value) -> Result<Value, String> {
    match (kind, value) {
        (ParamKind::String, Value::String(_)) => Ok(value.clone()),
        (ParamKind::Image, Value::String(s)) if !s.trim().is_empty() => Ok(value.clone()),
        (ParamKind::Image, Value::String(_)) => Err("is an empty image name".into()),
        (ParamKind::Bool, Value::Bool(_)) => Ok(value.clone()),
        (ParamKind::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("expects true or false, got {value}")),
        },
        (ParamKind::Int, Value::Number(n)) => int_of_number(n),
        (ParamKind::Int, Value::String(s)) => match serde_json::from_str::<Number>(s.trim()) {
            Ok(n) => int_of_number(&n),
            Err(_) => Err(format!("expects a whole number, got {value}")),
        },
        (ParamKind::Float, Value::Number(n)) => float_of(n.as_f64()),
        (ParamKind::Float, Value::String(s)) => match serde_json::from_str::<Number>(s.trim()) {
            Ok(n) => float_of(n.as_f64()),
            Err(_) => Err(format!("expects a number, got {value}")),
        },
        (kind, other) => Err(format!(
            "expects {}, got {}",
            article(kind),
            json_type(other)
        )),
    }
}

fn int_of_number(n: &Number) -> Result<Value, String> {
    if n.is_i64() || n.is_u64() {
        return Ok(Value::Number(n.clone()));
    }
    match n.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(Value::from(x as i64)),
        _ => Err(format!("expects a whole number, got {n}")),
    }
}

fn float_of(x: Option<f64>) -> Result<Value, String> {
    x.and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| "expects a finite number".to_string())
}

fn article(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::String => "text",
        ParamKind::Int => "a whole number",
        ParamKind::Float => "a number",
        ParamKind::Bool => "true or false",
        ParamKind::Image => "an image name",
    }
}

fn json_type(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The text a value becomes inside a longer string ("a photo of {{subject}}").
pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What easel knows about a standard parameter.
#[derive(Clone, Copy, Debug)]
pub struct Standard {
    pub name: &'static str,
    pub kind: ParamKind,
    pub description: &'static str,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Bounds follow ComfyUI's own nodes (EmptyLatentImage 16..=16384, KSampler steps
/// 1..=10000, cfg 0..=100, denoise 0..=1, batch 1..=4096), so that easel refuses only what
/// ComfyUI would refuse too.
const STANDARD: &[Standard] = &[
    std_param("prompt", ParamKind::String, "What to draw.", None, None),
    std_param(
        "negative_prompt",
        ParamKind::String,
        "What to keep out of the image.",
        None,
        None,
    ),
    std_param(
        "width",
        ParamKind::Int,
        "Image width in pixels.",
        Some(16.0),
        Some(16384.0),
    ),
    std_param(
        "height",
        ParamKind::Int,
        "Image height in pixels.",
        Some(16.0),
        Some(16384.0),
    ),
    std_param(
        "seed",
        ParamKind::Int,
        "Random seed; the same seed repeats an image.",
        Some(0.0),
        None,
    ),
    std_param(
        "steps",
        ParamKind::Int,
        "Sampling steps.",
        Some(1.0),
        Some(10000.0),
    ),
    std_param(
        "guidance",
        ParamKind::Float,
        "How closely to follow the prompt (CFG, or Flux guidance).",
        Some(0.0),
        Some(100.0),
    ),
    std_param(
        "batch",
        ParamKind::Int,
        "Images per run (the request's count).",
        Some(1.0),
        Some(4096.0),
    ),
    std_param(
        "sampler_name",
        ParamKind::String,
        "Sampler, e.g. euler, dpmpp_2m.",
        None,
        None,
    ),
    std_param(
        "scheduler",
        ParamKind::String,
        "Noise schedule, e.g. normal, karras, simple.",
        None,
        None,
    ),
    std_param(
        "denoise",
        ParamKind::Float,
        "How much to change the input: 0 keeps it, 1 replaces it.",
        Some(0.0),
        Some(1.0),
    ),
    std_param(
        "model",
        ParamKind::String,
        "Model file to load instead of the workflow's.",
        None,
        None,
    ),
    std_param("image", ParamKind::Image, "Input image.", None, None),
];

const fn std_param(
    name: &'static str,
    kind: ParamKind,
    description: &'static str,
    min: Option<f64>,
    max: Option<f64>,
) -> Standard {
    Standard {
        name,
        kind,
        description,
        min,
        max,
    }
}

/// The standard parameter called `name`; `image_1`, `image_2`, … are standard images.
pub fn standard(name: &str) -> Option<Standard> {
    if let Some(s) = STANDARD.iter().find(|s| s.name == name) {
        return Some(*s);
    }
    let n = name.strip_prefix("image_")?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(Standard {
        name: "image",
        kind: ParamKind::Image,
        description: "Input image.",
        min: None,
        max: None,
    })
}

/// Where a standard parameter sorts in listings (prompt first, image last).
pub fn standard_rank(name: &str) -> Option<usize> {
    standard(name)?;
    Some(
        STANDARD
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(STANDARD.len()),
    )
}

/// The `'static` field name an [`InvalidInput`] uses for a standard parameter; batch is
/// the request's `count`, images are `images`.
fn field_name(name: &str) -> Option<&'static str> {
    match name {
        "batch" => Some("count"),
        n if n == "image" || (n.starts_with("image_") && standard(n).is_some()) => Some("images"),
        n => STANDARD.iter().find(|s| s.name == n).map(|s| s.name),
    }
}

/// Whether `name` can be a parameter name: a letter or `_`, then letters, digits, `_`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Input names whose values are floats even when an export writes them without a decimal
/// point (`"cfg": 8`), so a marked `$x.cfg` still accepts 7.5.
pub fn float_input(input: &str) -> bool {
    matches!(
        input,
        "cfg"
            | "denoise"
            | "guidance"
            | "strength"
            | "strength_model"
            | "strength_clip"
            | "shift"
            | "max_shift"
            | "base_shift"
            | "scale_by"
            | "megapixels"
            | "start_percent"
            | "end_percent"
            | "conditioning_to_strength"
            | "noise_augmentation"
            | "sigma_max"
            | "sigma_min"
            | "rho"
            | "eta"
            | "s_noise"
            | "multiplier"
    )
}
