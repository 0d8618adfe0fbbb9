//! A workflow's parameters as the JSON Schema of an MCP tool's arguments.

use serde_json::{Map, Value, json};

use super::params::{ParamKind, ParamSpec};
use super::workflow::Workflow;

/// `{"type": "object", "properties": {...}, "required": [...]}` with one property per
/// parameter (description, default, minimum, maximum, enum). Required: parameters without
/// a default, except width, height, seed and batch. Image parameters are strings (the
/// image to use); the backend decides how callers name images.
pub fn workflow_schema(w: &Workflow) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in &w.params {
        properties.insert(p.name.clone(), Value::Object(property(p)));
        // Width, height, seed and count always come with a request (the caller's or the
        // server's defaults), so they are never required of the agent.
        let always_given = matches!(p.name.as_str(), "width" | "height" | "seed" | "batch");
        if p.required() && !always_given {
            required.push(Value::String(p.name.clone()));
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("required".into(), Value::Array(required));
    schema.insert("additionalProperties".into(), json!(false));
    schema
}

fn property(p: &ParamSpec) -> Map<String, Value> {
    let mut s = Map::new();
    let ty = match p.kind {
        ParamKind::String | ParamKind::Image => "string",
        ParamKind::Int => "integer",
        ParamKind::Float => "number",
        ParamKind::Bool => "boolean",
    };
    s.insert("type".into(), json!(ty));
    let mut description = p.description.clone();
    if p.kind == ParamKind::Image {
        if !description.is_empty() {
            description.push(' ');
        }
        description.push_str("(image input)");
    }
    if !description.is_empty() {
        s.insert("description".into(), Value::String(description));
    }
    if let Some(d) = &p.default {
        s.insert("default".into(), d.clone());
    }
    if let Some(min) = p.min {
        s.insert("minimum".into(), number(min, p.kind));
    }
    if let Some(max) = p.max {
        s.insert("maximum".into(), number(max, p.kind));
    }
    if let Some(choices) = &p.choices {
        s.insert("enum".into(), Value::Array(choices.clone()));
    }
    s
}

/// Integer bounds print as integers (`16`, not `16.0`) so schemas read naturally.
fn number(x: f64, kind: ParamKind) -> Value {
    if kind == ParamKind::Int && x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}
