//! easel's MCP App (SEP-1865), through a real rmcp client that declares the extension
//! `io.modelcontextprotocol/ui`, and through one that does not: the view resource, the
//! `_meta.ui` on the job tools, the view-only `run_again`, the confirmation rules on it,
//! and a plain client that sees none of it.
//!
//! `EASEL_BLESS=1 cargo test -p easel --test tests mcp_app::` also records the results the
//! browser test feeds the view (tests/browser/app_fixture.json), from real calls against
//! the simulator.

use std::path::Path;

use easel::config::Config;
use easel::service::app::{APP_ONLY_TOOLS, EXTENSION_ID, MIME_TYPE, VIEW_URI, VIEWED_TOOLS};
use easel::service::surface::budgeted_json;
use easel_sim::ModelScopeConfig;
use rmcp::ClientHandler;
use rmcp::model::{
    CallToolResult, ClientCapabilities, ClientConfig, ExtensionCapabilities, JsonObject,
    ReadResourceRequestParams, ResourceContents, Tool,
};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

use crate::common::{self, call, is_error, structured, text};

/// A host that renders MCP Apps: it declares the extension with the view's MIME type.
#[derive(Clone, Default)]
pub struct AppHost;

impl ClientHandler for AppHost {
    fn get_info(&self) -> ClientConfig {
        let mut settings = JsonObject::new();
        settings.insert("mimeTypes".into(), json!([MIME_TYPE]));
        let mut extensions = ExtensionCapabilities::new();
        extensions.insert(EXTENSION_ID.into(), settings);
        let mut info = ClientConfig::default();
        info.capabilities = ClientCapabilities::builder()
            .enable_extensions_with(extensions)
            .build();
        info
    }
}

/// The simulator and the folders live as long as the clients.
pub struct AppHarness {
    pub _sim: easel_sim::ModelScopeSim,
    pub _dir: tempfile::TempDir,
    pub host: RunningService<RoleClient, AppHost>,
    /// A client without the extension, on the same easel state.
    pub plain: RunningService<RoleClient, common::Recorder>,
}

async fn serve_host(config: &Config) -> RunningService<RoleClient, AppHost> {
    common::serve_with(config, AppHost).await
}

pub async fn start(sim_config: ModelScopeConfig, extra_env: &[(&str, &str)]) -> AppHarness {
    easel::logging::install_tls_provider();
    let sim = easel_sim::ModelScopeSim::start(sim_config)
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let env = common::test_env(&sim, &out, extra_env);
    let config = common::config(dir.path(), &env);
    let host = serve_host(&config).await;
    let (plain, _) = common::serve(&config).await;
    AppHarness {
        _sim: sim,
        _dir: dir,
        host,
        plain,
    }
}

fn ui_meta(tool: &Tool) -> Option<Value> {
    tool.meta.as_ref().map(|m| Value::Object(m.0.clone()))
}

fn named<'a>(tools: &'a [Tool], name: &str) -> &'a Tool {
    tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

/// What the model of an MCP Apps host is shown: tools whose visibility includes "model".
fn model_visible(tools: &[Tool]) -> Vec<Tool> {
    tools
        .iter()
        .filter(|t| {
            ui_meta(t)
                .and_then(|m| m["ui"]["visibility"].as_array().cloned())
                .is_none_or(|v| v.contains(&json!("model")))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_apps_host_sees_the_view_on_the_job_tools_and_the_view_only_tool() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let info = h.host.peer_info().expect("initialize result");
    let declared = info.capabilities.extensions.clone().expect("extensions");
    assert_eq!(declared[EXTENSION_ID]["mimeTypes"], json!([MIME_TYPE]));

    let tools = h.host.list_all_tools().await.expect("tools/list");
    for name in VIEWED_TOOLS {
        let meta = ui_meta(named(&tools, name)).unwrap_or_else(|| panic!("{name} has _meta"));
        assert_eq!(meta["ui"]["resourceUri"], VIEW_URI, "{name}: {meta}");
        assert_eq!(meta["ui/resourceUri"], VIEW_URI, "{name}: {meta}");
        assert!(meta["ui"].get("visibility").is_none(), "{name}: {meta}");
    }
    for name in APP_ONLY_TOOLS {
        let meta = ui_meta(named(&tools, name)).expect("_meta");
        assert_eq!(meta["ui"]["visibility"], json!(["app"]), "{meta}");
        assert_eq!(meta["ui"]["resourceUri"], VIEW_URI, "{meta}");
    }
    let others: Vec<_> = tools
        .iter()
        .filter(|t| {
            !VIEWED_TOOLS.contains(&t.name.as_ref()) && !APP_ONLY_TOOLS.contains(&t.name.as_ref())
        })
        .collect();
    assert!(others.iter().all(|t| t.meta.is_none()), "{others:?}");

    // The model of such a host is shown exactly what any other client lists.
    let plain = h.plain.list_all_tools().await.expect("tools/list");
    let shown = model_visible(&tools);
    assert_eq!(budgeted_json(&shown), budgeted_json(&plain));
}

#[tokio::test]
async fn the_view_is_one_self_contained_page_with_a_strict_csp() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let read = h
        .host
        .read_resource(ReadResourceRequestParams::new(VIEW_URI))
        .await
        .expect("resources/read");
    assert_eq!(read.contents.len(), 1);
    let ResourceContents::TextResourceContents {
        uri,
        mime_type,
        text,
        meta,
    } = &read.contents[0]
    else {
        panic!("the view is text: {:?}", read.contents[0]);
    };
    assert_eq!(uri, VIEW_URI);
    assert_eq!(mime_type.as_deref(), Some(MIME_TYPE));
    assert!(text.starts_with("<!DOCTYPE html>"), "{}", &text[..80]);
    // Everything inline: no script, style or image is fetched from anywhere.
    for external in ["<script src", "<link", "http://", "https://"] {
        assert!(!text.contains(external), "the view loads {external}");
    }
    let meta = Value::Object(meta.as_ref().expect("_meta").0.clone());
    let csp = &meta["ui"]["csp"];
    for key in [
        "connectDomains",
        "resourceDomains",
        "frameDomains",
        "baseUriDomains",
    ] {
        assert_eq!(csp[key], json!([]), "{key}: {meta}");
    }
    assert_eq!(meta["ui"]["prefersBorder"], true);

    // An apps host finds it at the head of resources/list; a plain client does not.
    let listed = h.host.list_all_resources().await.expect("resources/list");
    assert_eq!(listed[0].uri, VIEW_URI);
    assert_eq!(listed[0].mime_type.as_deref(), Some(MIME_TYPE));
    let plain = h.plain.list_all_resources().await.expect("resources/list");
    assert!(plain.iter().all(|r| r.uri != VIEW_URI), "{plain:?}");

    let wrong = h
        .host
        .read_resource(ReadResourceRequestParams::new("ui://easel/other"))
        .await
        .expect_err("an unknown view");
    assert!(wrong.to_string().contains(VIEW_URI), "{wrong}");
}

#[tokio::test]
async fn run_again_makes_a_new_job_from_the_stored_request() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let first = call(
        &h.host,
        "generate_image",
        common::gen_args(json!({"count": 2})),
    )
    .await;
    let first = structured(&first);
    assert_eq!(first["status"], "succeeded", "{first:#}");
    let id = first["job_id"].as_str().expect("job_id");

    let same = call(&h.host, "run_again", json!({"job_id": id})).await;
    assert!(!is_error(&same), "{}", text(&same));
    let same = structured(&same);
    assert_ne!(same["job_id"], first["job_id"]);
    assert_eq!(same["status"], "succeeded", "{same:#}");
    assert_eq!(same["seed"], 42);
    assert_eq!(same["size"], "256x256");
    assert_eq!(same["count"], 2);

    let varied = call(
        &h.host,
        "run_again",
        json!({"job_id": id, "variation": true, "wait_seconds": 0}),
    )
    .await;
    let varied = structured(&varied);
    assert_ne!(
        varied["seed"], 42,
        "a variation draws a new seed: {varied:#}"
    );
    assert_eq!(varied["size"], "256x256");

    let unknown = call(&h.host, "run_again", json!({"job_id": "nope"})).await;
    assert!(is_error(&unknown));
    assert!(
        text(&unknown).starts_with("job_id: no job \"nope\""),
        "{}",
        text(&unknown)
    );
}

#[tokio::test]
async fn run_again_is_confirmed_like_generate_image() {
    // ModelScope is paid: above one image per call the user is asked first. These clients
    // cannot show a form, so the call needs confirm: true.
    let h = start(
        ModelScopeConfig::default(),
        &[
            ("EASEL_CONFIRM", "true"),
            ("EASEL_CONFIRM_SPEND_THRESHOLD", "1"),
        ],
    )
    .await;
    let first = call(
        &h.host,
        "generate_image",
        common::gen_args(json!({"count": 2, "confirm": true})),
    )
    .await;
    let id = structured(&first)["job_id"]
        .as_str()
        .expect("job_id")
        .to_string();
    let jobs_before = structured(&call(&h.host, "list_jobs", json!({})).await)["jobs"]
        .as_array()
        .map(Vec::len);

    let asked = call(
        &h.host,
        "run_again",
        json!({"job_id": id, "variation": true}),
    )
    .await;
    assert!(is_error(&asked));
    assert!(
        text(&asked).starts_with("CONFIRMATION NEEDED"),
        "{}",
        text(&asked)
    );
    assert!(text(&asked).contains("2 image(s)"), "{}", text(&asked));
    let jobs_after = structured(&call(&h.host, "list_jobs", json!({})).await)["jobs"]
        .as_array()
        .map(Vec::len);
    assert_eq!(jobs_before, jobs_after, "nothing was submitted");

    let agreed = call(
        &h.host,
        "run_again",
        json!({"job_id": id, "variation": true, "confirm": true}),
    )
    .await;
    assert_eq!(
        structured(&agreed)["status"],
        "succeeded",
        "{}",
        text(&agreed)
    );
}

#[tokio::test]
async fn a_client_without_the_extension_sees_todays_surface_and_results() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let tools = h.plain.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().all(|t| t.meta.is_none()), "no _meta");
    for name in APP_ONLY_TOOLS {
        assert!(tools.iter().all(|t| t.name != name), "{name} is not listed");
    }
    let refused = h
        .plain
        .call_tool(
            rmcp::model::CallToolRequestParams::new("run_again")
                .with_arguments(json!({"job_id": "x"}).as_object().cloned().expect("object")),
        )
        .await
        .expect_err("run_again is not this client's");
    assert!(refused.to_string().contains(EXTENSION_ID), "{refused}");

    // One job's result, as each client receives it, is the same: the app changes no result.
    let made = call(&h.plain, "generate_image", common::gen_args(json!({}))).await;
    let id = structured(&made)["job_id"]
        .as_str()
        .expect("job_id")
        .to_string();
    let seen_plain = call(&h.plain, "get_job", json!({"job_id": id})).await;
    let seen_host = call(&h.host, "get_job", json!({"job_id": id})).await;
    assert_eq!(comparable(&seen_plain), comparable(&seen_host));
    assert!(seen_plain.meta.is_none());
}

/// A finished job's result is fixed (times, paths, previews), so two reads compare whole.
fn comparable(r: &CallToolResult) -> Value {
    serde_json::to_value(r).expect("json")
}

/// The results the browser test (tests/browser/test_app.py) feeds the view through its
/// test host, recorded from real calls: written when blessing, checked for shape always.
#[tokio::test]
async fn the_browser_fixture_is_a_recorded_real_result() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/app_fixture.json");
    if crate::surface::blessing() {
        let fixture = record().await;
        let mut pretty = serde_json::to_string_pretty(&fixture).expect("json");
        pretty.push('\n');
        std::fs::write(&path, pretty).expect("write fixture");
    }
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("fixture (record it with EASEL_BLESS=1)"),
    )
    .expect("json");
    let done = &fixture["succeeded"]["result"];
    assert_eq!(done["structuredContent"]["status"], "succeeded");
    let images = done["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter(|c| c["type"] == "image")
        .count();
    assert_eq!(images, 2, "two previews");
    assert_eq!(
        fixture["running"]["result"]["structuredContent"]["status"],
        "running"
    );
    assert_eq!(
        fixture["cancelled"]["result"]["structuredContent"]["status"],
        "cancelled"
    );
    assert_eq!(
        fixture["variation"]["result"]["structuredContent"]["status"],
        "succeeded"
    );
}

/// Real calls against the simulator: a finished job of two images; a job still running
/// (the simulator answers "running" for many polls); that job cancelled; a variation of
/// the first.
async fn record() -> Value {
    let h = start(
        ModelScopeConfig {
            in_progress_polls: 400,
            ..ModelScopeConfig::default()
        },
        &[],
    )
    .await;
    let quick = start(ModelScopeConfig::default(), &[]).await;
    let input = json!({"prompt": "a lighthouse on a cliff at dusk, oil painting", "size": "256x256", "seed": 7, "count": 2});
    let done = call(&quick.host, "generate_image", input.clone()).await;
    let id = structured(&done)["job_id"]
        .as_str()
        .expect("job_id")
        .to_string();
    let variation_args =
        json!({"job_id": id, "variation": true, "wait_seconds": 0, "preview": "thumbnail"});
    let started = call(&quick.host, "run_again", variation_args.clone()).await;
    let varied_id = structured(&started)["job_id"]
        .as_str()
        .expect("job_id")
        .to_string();
    let varied = call(
        &quick.host,
        "get_job",
        json!({"job_id": varied_id, "wait_seconds": 60}),
    )
    .await;

    let slow_input = json!({"prompt": "a paper boat on a pond", "size": "256x256", "seed": 9, "wait_seconds": 0});
    let slow = call(&h.host, "generate_image", slow_input.clone()).await;
    let slow_id = structured(&slow)["job_id"]
        .as_str()
        .expect("job_id")
        .to_string();
    let running = call(
        &h.host,
        "get_job",
        json!({"job_id": slow_id, "wait_seconds": 1}),
    )
    .await;
    let cancelled = call(&h.host, "cancel_job", json!({"job_id": slow_id})).await;
    json!({
        "recorded_with": "EASEL_BLESS=1 cargo test -p easel --test tests mcp_app::",
        "succeeded": {"tool": "generate_image", "arguments": input, "result": done},
        "running": {"tool": "generate_image", "arguments": slow_input, "result": running},
        "cancelled": {"tool": "cancel_job", "arguments": {"job_id": slow_id}, "result": cancelled},
        "variation_started": {"tool": "run_again", "arguments": variation_args, "result": started},
        "variation": {"tool": "get_job", "arguments": {"job_id": varied_id}, "result": varied},
    })
}

/// The calls the view makes (tests/browser/test_app.py checks it sends exactly these) are
/// ones easel accepts: following a job, and a draft note of chosen images by URI, which
/// needs no confirmation even where confirmation is on.
#[tokio::test]
async fn the_views_own_calls_work_against_easel() {
    let h = start(
        ModelScopeConfig::default(),
        &[
            ("EASEL_CONFIRM", "true"),
            ("EASEL_CONFIRM_SPEND_THRESHOLD", "4"),
        ],
    )
    .await;
    let made = call(
        &h.host,
        "generate_image",
        common::gen_args(json!({"count": 2})),
    )
    .await;
    let made = structured(&made);
    let id = made["job_id"].as_str().expect("job_id");
    let followed = call(
        &h.host,
        "get_job",
        json!({"job_id": id, "wait_seconds": 20, "preview": "thumbnail"}),
    )
    .await;
    assert_eq!(structured(&followed)["status"], "succeeded");
    let images = followed
        .content
        .iter()
        .filter(|c| c.as_image().is_some())
        .count();
    assert_eq!(images, 2, "the view shows the result's own previews");

    let uri = made["files"][1]["uri"].as_str().expect("uri");
    let note = call(
        &h.host,
        "publish_note",
        json!({"publisher": "draft", "title": "a lighthouse on a cliff at dusk, oil", "content": "a lighthouse", "images": [uri]}),
    )
    .await;
    assert!(!is_error(&note), "{}", text(&note));
    assert_eq!(structured(&note)["outcome"], "published", "{}", text(&note));
}
