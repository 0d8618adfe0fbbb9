//! easel's MCP App (SEP-1865, MCP Apps extension `io.modelcontextprotocol/ui`, spec version
//! 2026-01-26): one HTML view that hosts able to render MCP Apps (Claude Desktop, VS Code,
//! Goose, ChatGPT…) show for the job tools' results instead of their JSON.
//!
//! Everything here is offered only to a client that declared the extension with the view's
//! MIME type in `initialize` (or, on 2026-07-28, in the request's capabilities): the
//! `_meta.ui` on tools, the view-only tool `run_again` and the view in `resources/list`.
//! Any other client sees exactly what it saw before the app existed (the spec's "servers
//! SHOULD check client capabilities before registering UI-enabled tools"). The view itself
//! stays readable by URI for everyone: reading it does nothing.

mod tool;

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientCapabilities, JsonObject, MetaObject, ReadResourceResult, Resource, ResourceContents,
    Tool,
};
use serde_json::{Value, json};

pub(super) use tool::RunAgainParams;

/// The extension's identifier in `capabilities.extensions`.
pub const EXTENSION_ID: &str = "io.modelcontextprotocol/ui";
/// The only view type the spec defines.
pub const MIME_TYPE: &str = "text/html;profile=mcp-app";
/// The one view, shared by every tool that has one.
pub const VIEW_URI: &str = "ui://easel/job-view";
/// Tools whose results the view renders.
pub const VIEWED_TOOLS: [&str; 4] = ["generate_image", "edit_image", "get_job", "generate_batch"];
/// Tools only the view calls: hidden from the model (`visibility: ["app"]`) and not listed
/// to clients without the extension.
pub const APP_ONLY_TOOLS: [&str; 1] = ["run_again"];

/// The view: one self-contained page (inline script and style, images as `data:` URIs),
/// as hosts load it into a sandboxed iframe.
const VIEW_HTML: &str = include_str!("assets/view.html");

/// Whether the client renders MCP Apps of the kind easel serves: it declared the extension
/// and listed `text/html;profile=mcp-app` among its `mimeTypes` (required by the spec).
pub fn client_supports(caps: Option<&ClientCapabilities>) -> bool {
    caps.and_then(|c| c.extensions.as_ref())
        .and_then(|e| e.get(EXTENSION_ID))
        .and_then(|settings| settings.get("mimeTypes"))
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(MIME_TYPE)))
}

/// What easel declares in its own `capabilities.extensions`.
pub fn server_settings() -> JsonObject {
    let mut settings = JsonObject::new();
    settings.insert("mimeTypes".into(), json!([MIME_TYPE]));
    settings
}

/// `_meta` linking a tool to the view. The flat `ui/resourceUri` key is the deprecated
/// form the 2026-01-26 spec still names, for hosts built before the nested one.
fn tool_meta(app_only: bool) -> MetaObject {
    let mut ui = JsonObject::new();
    ui.insert("resourceUri".into(), json!(VIEW_URI));
    if app_only {
        ui.insert("visibility".into(), json!(["app"]));
    }
    let mut meta = JsonObject::new();
    meta.insert("ui".into(), Value::Object(ui));
    meta.insert("ui/resourceUri".into(), json!(VIEW_URI));
    MetaObject(meta)
}

pub fn is_app_only(tool: &str) -> bool {
    APP_ONLY_TOOLS.contains(&tool)
}

/// The tool list as a client sees it: with the extension, the viewed tools carry the view
/// and the view-only tools are there (marked so); without it, as if there were no app.
pub fn listed(tools: Vec<Tool>, client_has_apps: bool) -> Vec<Tool> {
    tools
        .into_iter()
        .filter_map(|mut tool| {
            let app_only = is_app_only(&tool.name);
            if !client_has_apps {
                return (!app_only).then_some(tool);
            }
            if app_only || VIEWED_TOOLS.contains(&tool.name.as_ref()) {
                let mut meta = tool.meta.take().unwrap_or_default();
                meta.0.extend(tool_meta(app_only).0);
                tool.meta = Some(meta);
            }
            Some(tool)
        })
        .collect()
}

/// The refusal a client without the extension gets for a view-only tool.
pub fn not_for_this_client(tool: &str) -> McpError {
    McpError::invalid_params(
        format!(
            "name: {tool} is a tool of easel's MCP App view, callable only by clients that declared the {EXTENSION_ID} extension with {MIME_TYPE}. Use generate_image (or get_job, cancel_job) instead."
        ),
        Some(json!({ "tool": tool })),
    )
}

/// `_meta.ui` of the view: no external origin of any kind (images arrive as `data:` URIs in
/// tool results, tool calls go through the host), and a border from the host.
fn resource_meta() -> MetaObject {
    let mut meta = JsonObject::new();
    meta.insert(
        "ui".into(),
        json!({
            "csp": {
                "connectDomains": [],
                "resourceDomains": [],
                "frameDomains": [],
                "baseUriDomains": []
            },
            "prefersBorder": true
        }),
    );
    MetaObject(meta)
}

/// The view's entry in `resources/list`.
pub fn resource() -> Resource {
    Resource::new(VIEW_URI, "easel-job-view")
        .with_title("easel job view")
        .with_description("Images, progress and actions of easel's job tools (MCP App)")
        .with_mime_type(MIME_TYPE)
        .with_meta(resource_meta())
}

/// `resources/read` of a `ui://` URI.
pub fn read(uri: &str) -> Result<ReadResourceResult, McpError> {
    if uri != VIEW_URI {
        return Err(McpError::resource_not_found(
            format!("uri: easel has no view {uri:?}; its one view is {VIEW_URI}"),
            Some(json!({ "uri": uri })),
        ));
    }
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(VIEW_HTML, VIEW_URI)
            .with_mime_type(MIME_TYPE)
            .with_meta(resource_meta()),
    ]))
}

#[cfg(test)]
mod tests {
    use rmcp::model::ExtensionCapabilities;

    use super::*;

    fn caps(settings: Value) -> ClientCapabilities {
        let mut map = ExtensionCapabilities::new();
        if let Value::Object(o) = settings {
            map.insert(EXTENSION_ID.into(), o);
        }
        ClientCapabilities::builder()
            .enable_extensions_with(map)
            .build()
    }

    #[test]
    fn only_a_client_naming_the_view_type_gets_the_app() {
        assert!(client_supports(Some(&caps(
            json!({"mimeTypes": [MIME_TYPE]})
        ))));
        assert!(!client_supports(Some(&caps(
            json!({"mimeTypes": ["text/uri-list"]})
        ))));
        assert!(!client_supports(Some(&caps(json!({})))));
        assert!(!client_supports(Some(&ClientCapabilities::default())));
        assert!(!client_supports(None));
    }

    #[test]
    fn the_view_declares_no_external_origin() {
        let html = VIEW_HTML;
        assert!(html.starts_with("<!DOCTYPE html>"));
        for forbidden in [
            "http://",
            "https://",
            "src=\"//",
            "fetch(",
            "XMLHttpRequest",
            "WebSocket",
        ] {
            assert!(!html.contains(forbidden), "the view contains {forbidden}");
        }
        assert!(html.contains("Content-Security-Policy"));
    }
}
