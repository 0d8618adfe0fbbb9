//! What a client sees before it calls anything: the tool definitions as sent (compacted
//! schemas, icons), the server's `instructions` and `serverInfo`, and the tool reference in
//! docs/TOOLS.md. All are generated from the `#[tool]` definitions, so none can go stale;
//! tests/surface.rs pins them and their size.

mod compact;
pub mod icons;
mod markdown;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, JsonObject, Tool};
use serde_json::Value;

use super::EaselServer;
pub use compact::{Style, compact};

/// Doc comments are the single source of every description. A tool's first doc line, and a
/// parameter's first paragraph, is what clients receive; what follows (further lines of a
/// tool's comment, paragraphs after a blank `///` line of a parameter's) is detail that only
/// docs/TOOLS.md carries. Errors name the field and the fix, so the short form suffices to
/// call a tool.
fn wire_description(tool: &mut Tool) {
    if let Some(d) = &tool.description {
        let first = compact::one_line(d.lines().next().unwrap_or(""));
        tool.description = Some(first.into());
    }
}

/// Ceiling on the bytes every conversation pays for easel's tools (name, title, description,
/// schemas and annotations of all tools, as compact JSON; icons excluded), default config.
pub const TOOLS_BUDGET_BYTES: usize = 16_000;

/// The order tools are explained in (instructions, docs): the path a caller takes.
const ORDER: [&str; 11] = [
    "generate_image",
    "edit_image",
    "generate_batch",
    "get_job",
    "list_jobs",
    "cancel_job",
    "list_workflows",
    "backends",
    "publish_note",
    "publisher_status",
    "list_notes",
];

impl EaselServer {
    /// Every built-in tool as its `#[tool]` attribute defines it, before compaction.
    pub(super) fn defined_tools() -> ToolRouter<Self> {
        Self::tool_router() + Self::catalog_router() + Self::batch_router() + Self::publish_router()
    }
}

/// Compacts every tool's schemas for the wire. Tools with the same output type share one
/// compacted schema (the four job tools report a job alike).
pub(super) fn finish(router: &mut ToolRouter<EaselServer>) {
    let mut shared: HashMap<String, Arc<JsonObject>> = HashMap::new();
    for route in router.map.values_mut() {
        let tool = &mut route.attr;
        wire_description(tool);
        tool.input_schema = Arc::new(compact(&tool.input_schema, Style::Input));
        if let Some(output) = tool.output_schema.take() {
            let key = Value::Object((*output).clone()).to_string();
            let compacted = shared
                .entry(key)
                .or_insert_with(|| Arc::new(compact(&output, Style::Output)));
            tool.output_schema = Some(compacted.clone());
        }
    }
}

/// The built-in tools as the default configuration lists them.
pub fn tools() -> Vec<Tool> {
    let mut router = EaselServer::defined_tools();
    finish(&mut router);
    ordered(router.list_all())
}

/// `tools` in [`ORDER`], any tool it does not name after them by name.
fn ordered(mut tools: Vec<Tool>) -> Vec<Tool> {
    tools.sort_by_key(|t| {
        (
            ORDER
                .iter()
                .position(|n| *n == t.name)
                .unwrap_or(ORDER.len()),
            t.name.to_string(),
        )
    });
    tools
}

/// The part of `tools` that [`TOOLS_BUDGET_BYTES`] bounds, as compact JSON: each tool's
/// name, title, description, schemas and annotations (not icons, not `_meta`).
pub fn budgeted_json(tools: &[Tool]) -> String {
    let trimmed: Vec<Value> = tools
        .iter()
        .map(|t| {
            let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.retain(|k, _| {
                    matches!(
                        k.as_str(),
                        "name"
                            | "title"
                            | "description"
                            | "inputSchema"
                            | "outputSchema"
                            | "annotations"
                    )
                });
            }
            v
        })
        .collect();
    Value::Array(trimmed).to_string()
}

/// The first sentence of a tool's description: its purpose in one line.
pub fn purpose(tool: &Tool) -> &str {
    let d = tool.description.as_deref().unwrap_or("");
    match d.find(". ") {
        Some(end) => &d[..=end],
        None => d,
    }
}

/// The server's `instructions`: what easel is, its providers, and one line per tool.
pub fn instructions() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let providers: Vec<String> = crate::backend::PROVIDERS
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        let mut text = format!(
            "easel makes images through {} backends (backends tells which are ready) and saves them under its output root; it can publish them as notes.\n",
            providers.join(", ")
        );
        for tool in tools() {
            text.push_str(&format!("- {}: {}\n", tool.name, purpose(&tool)));
        }
        text.push_str(
            "A job still running after wait_seconds returns status \"running\" and a job_id: call get_job to wait for it. Errors name the field and the fix. \
Publishing, and paid generations above a threshold, are confirmed by the user first: where easel cannot ask, the answer says what would happen; ask the user, then call again with confirm: true.",
        );
        text
    })
}

/// `serverInfo`: name, version, title and icon.
pub fn implementation() -> Implementation {
    Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .with_title("easel")
        .with_icons(icons::icon(icons::SERVER))
}

/// docs/TOOLS.md: the tool reference, generated from the tool definitions with the detail
/// the wire leaves out.
pub fn reference_markdown() -> String {
    let (tools, outputs) = documented(EaselServer::defined_tools());
    let mut page = markdown::reference(&tools, &outputs, instructions());
    let (app_tools, _) = documented(EaselServer::app_router());
    page.push_str(&markdown::app_section(&app_tools));
    page
}

/// The tools of `router` with their whole descriptions and documented schemas, and their
/// output schemas by tool name.
fn documented(mut router: ToolRouter<EaselServer>) -> (Vec<Tool>, HashMap<String, JsonObject>) {
    let mut outputs: HashMap<String, JsonObject> = HashMap::new();
    for route in router.map.values_mut() {
        let tool = &mut route.attr;
        if let Some(out) = &tool.output_schema {
            outputs.insert(tool.name.to_string(), compact(out, Style::OutputDocs));
        }
        tool.input_schema = Arc::new(compact(&tool.input_schema, Style::InputDocs));
        if let Some(d) = &tool.description {
            tool.description = Some(compact::one_line(d).into());
        }
    }
    (ordered(router.list_all()), outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_place_an_icon_and_a_short_purpose() {
        let tools = tools();
        for (tool, name) in tools.iter().zip(ORDER) {
            assert_eq!(tool.name, name, "ORDER names every built-in tool once");
        }
        assert_eq!(
            tools.len(),
            ORDER.len(),
            "a new tool needs a place in ORDER"
        );
        for tool in &tools {
            assert!(
                tool.icons.as_ref().is_some_and(|i| i.len() == 1),
                "{} has an icon",
                tool.name
            );
            assert!(
                purpose(tool).len() <= 120,
                "{}: {}",
                tool.name,
                purpose(tool)
            );
        }
    }

    #[test]
    fn instructions_name_every_tool_and_provider() {
        let text = instructions();
        for name in ORDER {
            assert!(text.contains(&format!("- {name}: ")), "{name}: {text}");
        }
        for (provider, _) in crate::backend::PROVIDERS {
            assert!(text.contains(provider), "{provider}: {text}");
        }
        assert!(text.len() <= 2000, "{} bytes: {text}", text.len());
    }
}
