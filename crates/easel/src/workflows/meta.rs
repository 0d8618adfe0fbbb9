//! Optional documentation for a workflow's parameters: a sidecar `<name>.meta.json` or a
//! top-level `"easel"` block inside the workflow file, both of the same shape.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::params::{ParamKind, ParamSpec, coerce_kind};

/// `{"description": "...", "params": {"subject": {...}}}`. Unknown keys are refused so
/// that a misspelt `"defualt"` is reported instead of silently ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamMeta>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamMeta {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub choices: Option<Vec<Value>>,
    /// string, int, float, bool or image: overrides the type a placeholder or marker gives.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// true: the caller must give a value (the default is dropped).
    #[serde(default)]
    pub required: Option<bool>,
}

impl Meta {
    pub fn parse(value: Value) -> Result<Meta, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// This block with `over`'s fields taking precedence (the sidecar over the inline
    /// block, since a sidecar is what a user adds beside a downloaded workflow).
    pub fn merged(mut self, over: Meta) -> Meta {
        if over.description.is_some() {
            self.description = over.description;
        }
        for (name, o) in over.params {
            let p = self.params.entry(name).or_default();
            macro_rules! take {
                ($($f:ident),*) => {$( if o.$f.is_some() { p.$f = o.$f; } )*};
            }
            take!(description, default, min, max, choices, kind, required);
        }
        self
    }

    /// The type the metadata gives `name`, if any.
    pub fn kind(&self, name: &str) -> Result<Option<ParamKind>, String> {
        let Some(word) = self.params.get(name).and_then(|p| p.kind.as_deref()) else {
            return Ok(None);
        };
        ParamKind::parse(word).map(Some).ok_or_else(|| {
            format!("parameter {name:?} has type {word:?}; use string, int, float, bool or image")
        })
    }

    /// Copies descriptions, defaults and bounds onto the parameters, checking that each
    /// documented parameter exists and each default and choice fits its own rules.
    pub fn apply_to(&self, params: &mut [ParamSpec]) -> Result<(), String> {
        for (name, m) in &self.params {
            let Some(p) = params.iter_mut().find(|p| &p.name == name) else {
                let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                return Err(format!(
                    "describes parameter {name:?}, which the workflow does not have (it has: {}); \
                     add a {{{{{name}}}}} placeholder or a ${name}.<input> title marker, or remove the entry",
                    known.join(", ")
                ));
            };
            if let Some(d) = &m.description {
                p.description = d.clone();
            }
            if m.min.is_some() {
                p.min = m.min;
            }
            if m.max.is_some() {
                p.max = m.max;
            }
            if let (Some(lo), Some(hi)) = (p.min, p.max)
                && lo > hi
            {
                return Err(format!("parameter {name:?} has min {lo} above max {hi}"));
            }
            if let Some(choices) = &m.choices {
                let mut checked = Vec::with_capacity(choices.len());
                for c in choices {
                    checked.push(
                        coerce_kind(p.kind, c)
                            .map_err(|e| format!("parameter {name:?}: choice {c} {e}"))?,
                    );
                }
                p.choices = Some(checked);
            }
            if let Some(d) = &m.default {
                let d = p.coerce(d).map_err(|e| {
                    format!("parameter {name:?} has a default that fails its own rules: {e}")
                })?;
                p.default = Some(d);
            }
            match m.required {
                Some(true) => p.default = None,
                Some(false) if p.default.is_none() => {
                    return Err(format!(
                        "parameter {name:?} is marked not required but has no default; add \"default\""
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
