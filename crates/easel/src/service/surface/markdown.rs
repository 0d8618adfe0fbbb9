//! The tool reference page (docs/TOOLS.md), rendered from the tool definitions: parameters
//! from the input schema clients receive, output fields from the output type's documented
//! schema.

use std::collections::HashMap;
use std::fmt::Write;

use rmcp::model::{JsonObject, Tool};
use serde_json::{Map, Value};

use super::purpose;

pub fn reference(
    tools: &[Tool],
    outputs: &HashMap<String, JsonObject>,
    instructions: &str,
) -> String {
    let mut out = String::new();
    out.push_str("# easel's MCP tools\n\n");
    out.push_str(
        "<!-- Generated from the tool definitions by `easel tools --markdown`; do not edit.\n     \
         After changing a tool: EASEL_BLESS=1 cargo test -p easel --test tests surface:: -->\n\n",
    );
    out.push_str(
        "What an MCP client receives from `tools/list` (default configuration), one section per \
         tool. Ranges and defaults are enforced by easel; a call outside them gets an error that \
         names the field, the reason and the fix. Output fields are the tool result's \
         `structuredContent`.\n\n",
    );
    out.push_str("The server's `instructions`:\n\n");
    for line in instructions.lines() {
        let _ = writeln!(out, "> {line}  ");
    }
    out.push_str("\n| tool | purpose |\n|---|---|\n");
    for t in tools {
        let _ = writeln!(out, "| [`{0}`](#{0}) | {1} |", t.name, cell(purpose(t)));
    }
    for t in tools {
        tool_section(&mut out, t, outputs.get(t.name.as_ref()));
    }
    out
}

/// The MCP App's part of the page: what hosts that render MCP Apps show, and the tools
/// only its view calls (not in the table above: the model never sees them).
pub fn app_section(app_tools: &[Tool]) -> String {
    let mut out = String::new();
    out.push_str("\n## Inside the chat: the MCP App\n\n");
    let _ = writeln!(
        out,
        "Hosts that render MCP Apps (extension `{}`, spec 2026-01-26: Claude Desktop, VS Code \
         Copilot, Cursor, Goose, ChatGPT) and declare it with `{}` show the results of {} as \
         one interactive view, `{}`: the images, progress while a job runs (the view follows \
         it with `get_job`), and buttons for a variation (a new seed), cancel (`cancel_job`) \
         and \"send to a draft note\" (`publish_note` to the `draft` publisher). Paid \
         generations above the threshold and non-draft publishing are confirmed as always. \
         For such a host only, these tools carry `_meta.ui.resourceUri`, the view is listed \
         in `resources/list` and the tools below exist, marked `visibility: [\"app\"]` so \
         that the model never sees them; every other client gets exactly the list above \
         (so easel has nothing to switch off). More in docs/JOBS.md.",
        super::super::app::EXTENSION_ID,
        super::super::app::MIME_TYPE,
        super::super::app::VIEWED_TOOLS
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", "),
        super::super::app::VIEW_URI,
    );
    for t in app_tools {
        out.push_str(&tool_section_text(t).replacen("\n## ", "\n### ", 1));
    }
    out
}

fn tool_section_text(t: &Tool) -> String {
    let mut out = String::new();
    tool_section(&mut out, t, None);
    out
}

fn tool_section(out: &mut String, t: &Tool, output: Option<&JsonObject>) {
    let title = t
        .annotations
        .as_ref()
        .and_then(|a| a.title.clone())
        .or_else(|| t.title.clone())
        .unwrap_or_default();
    let _ = write!(out, "\n## {}\n\n", t.name);
    if !title.is_empty() {
        let _ = writeln!(out, "*{title}*\n");
    }
    let _ = writeln!(out, "{}\n", t.description.as_deref().unwrap_or(""));
    let _ = writeln!(out, "Hints: {}.\n", hints(t));
    let props = t
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .filter(|p| !p.is_empty());
    match props {
        None => out.push_str("Parameters: none.\n"),
        Some(props) => {
            let required = names(t.input_schema.get("required"));
            out.push_str("| parameter | type | default | description |\n|---|---|---|---|\n");
            for (name, p) in props {
                let Some(p) = p.as_object() else { continue };
                let name = if required.contains(&name.as_str()) {
                    format!("`{name}` (required)")
                } else {
                    format!("`{name}`")
                };
                let default = p
                    .get("default")
                    .map_or_else(|| "–".to_string(), |d| format!("`{d}`"));
                let _ = writeln!(
                    out,
                    "| {name} | {} | {} | {} |",
                    cell(&type_of(p, None)),
                    cell(&default),
                    cell(p.get("description").and_then(Value::as_str).unwrap_or(""))
                );
            }
        }
    }
    if let Some(schema) = output {
        let defs = schema.get("$defs").and_then(Value::as_object);
        out.push_str(
            "\nOutput (`structuredContent`):\n\n| field | type | description |\n|---|---|---|\n",
        );
        let mut rows = Vec::new();
        fields(schema, defs, "", &mut rows, 0);
        for (field, ty, description) in rows {
            let _ = writeln!(
                out,
                "| `{field}` | {} | {} |",
                cell(&ty),
                cell(&description)
            );
        }
    }
}

/// The annotations in words, with the protocol's defaults for hints a tool leaves out.
fn hints(t: &Tool) -> String {
    let a = t.annotations.clone().unwrap_or_default();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let read_only = a.read_only_hint.unwrap_or(false);
    let mut parts = vec![format!("read-only {}", yes(read_only))];
    if !read_only {
        parts.push(format!(
            "destructive {}",
            yes(a.destructive_hint.unwrap_or(true))
        ));
        parts.push(format!(
            "idempotent {}",
            yes(a.idempotent_hint.unwrap_or(false))
        ));
    }
    parts.push(format!(
        "open world {}",
        yes(a.open_world_hint.unwrap_or(true))
    ));
    parts.join(", ")
}

fn names(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `s` resolved through a `$ref` into `defs`, if it is one.
fn resolve<'a>(
    s: &'a Map<String, Value>,
    defs: Option<&'a Map<String, Value>>,
) -> &'a Map<String, Value> {
    s.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| defs?.get(name)?.as_object())
        .unwrap_or(s)
}

/// A schema's type in words: `integer`, `"a" | "b"`, `array of string`, `string or null`.
fn type_of(s: &Map<String, Value>, defs: Option<&Map<String, Value>>) -> String {
    let s = resolve(s, defs);
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = s.get(key).and_then(Value::as_array) {
            return branches
                .iter()
                .filter_map(Value::as_object)
                .map(|b| type_of(b, defs))
                .collect::<Vec<_>>()
                .join(" or ");
        }
    }
    let base = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    };
    let base = match (base.as_str(), s.get("items").and_then(Value::as_object)) {
        ("array", Some(items)) => format!("array of {}", type_of(items, defs)),
        ("object", None) => match s.get("additionalProperties").and_then(Value::as_object) {
            Some(values) => format!("object of {}", type_of(values, defs)),
            None => base,
        },
        _ => base,
    };
    match (s.get("minimum"), s.get("maximum")) {
        (Some(lo), Some(hi)) => format!("{base}, {lo}–{hi}"),
        (Some(lo), None) => format!("{base}, ≥ {lo}"),
        (None, Some(hi)) => format!("{base}, ≤ {hi}"),
        (None, None) => base,
    }
}

/// Bounds the walk should a schema refer to itself.
const MAX_DEPTH: usize = 6;

/// One row per output field, nested objects and arrays of objects flattened to
/// `parent.child` and `parent[].child`.
fn fields(
    s: &Map<String, Value>,
    defs: Option<&Map<String, Value>>,
    prefix: &str,
    rows: &mut Vec<(String, String, String)>,
    depth: usize,
) {
    let s = resolve(s, defs);
    let Some(props) = s.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required = names(s.get("required"));
    for (name, p) in props {
        let Some(p) = p.as_object() else { continue };
        let path = format!("{prefix}{name}");
        let inner = nested(p, defs);
        let mut ty = match inner {
            Some((_, true)) => "array of object".to_string(),
            Some((_, false)) => "object".to_string(),
            None => type_of(p, defs),
        };
        if !required.contains(&name.as_str()) {
            ty.push_str(" (optional)");
        }
        let description = p
            .get("description")
            .or_else(|| resolve(p, defs).get("description"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        rows.push((path.clone(), ty, description));
        if let Some((object, is_array)) = inner
            && depth < MAX_DEPTH
        {
            let child = if is_array {
                format!("{path}[].")
            } else {
                format!("{path}.")
            };
            fields(object, defs, &child, rows, depth + 1);
        }
    }
}

/// The object schema a field holds (directly, through `null`-or-object, or as array items),
/// and whether it is an array of them.
fn nested<'a>(
    p: &'a Map<String, Value>,
    defs: Option<&'a Map<String, Value>>,
) -> Option<(&'a Map<String, Value>, bool)> {
    let p = resolve(p, defs);
    if p.contains_key("properties") {
        return Some((p, false));
    }
    if let Some(items) = p.get("items").and_then(Value::as_object) {
        let items = resolve(items, defs);
        return items.contains_key("properties").then_some((items, true));
    }
    let branches = p.get("anyOf").and_then(Value::as_array)?;
    branches
        .iter()
        .filter_map(Value::as_object)
        .map(|b| resolve(b, defs))
        .find(|b| b.contains_key("properties"))
        .map(|b| (b, false))
}

/// Text made safe for one table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
