//! Every protocol version easel's clients speak, over every transport: 2026-07-28 (no
//! handshake: `server/discover`, then self-contained requests; stateless over HTTP),
//! 2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05 (`initialize`). Each client asks for
//! its version, checks it is the one negotiated, calls `generate_image` with a progress
//! token against the ModelScope simulator, and reads the image back as a resource.
//!
//! Transports: the binary over stdio and Streamable HTTP (sessions, and `--stateless`)
//! through rmcp's client; the legacy HTTP+SSE adapter through the small raw client, since
//! rmcp has no SSE client. Clients before 2025-06-18 cannot parse a `resource_link` content
//! block (their content union is closed), so they must get the link as text instead.

use std::process::Stdio;

use base64::Engine;
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use rmcp::model::{ProtocolVersion, ReadResourceRequestParams};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use super::support::*;
use crate::common::{self, Recorder, call, gen_args};

/// Newest first; the first has no `initialize`.
const VERSIONS: [ProtocolVersion; 5] = [
    ProtocolVersion::V_2026_07_28,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2024_11_05,
];

/// A few polls in progress, so the backend reports progress before the result.
fn sim_config() -> ModelScopeConfig {
    ModelScopeConfig {
        in_progress_polls: 3,
        ..Default::default()
    }
}

/// The client handler and lifecycle that make rmcp's client speak `version`.
fn client_for(version: &ProtocolVersion) -> (Recorder, ClientLifecycleMode) {
    if version.has_initialize() {
        (
            Recorder::speaking(version.clone()),
            ClientLifecycleMode::Initialize,
        )
    } else {
        (
            Recorder::default(),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![version.clone()],
            },
        )
    }
}

/// What one client saw, as JSON on the wire.
struct Seen {
    negotiated: String,
    progress: usize,
    /// The `tools/call` result.
    result: Value,
    /// The `resources/read` result for the first image.
    read: Value,
}

/// Generates and reads back through an rmcp client, then closes it.
async fn exercise(client: RunningService<RoleClient, Recorder>) -> Seen {
    let negotiated = client
        .peer_info()
        .expect("server info")
        .protocol_version
        .to_string();
    let r = call(&client, "generate_image", gen_args(json!({}))).await;
    let result = serde_json::to_value(&r).expect("result json");
    let uri = result["structuredContent"]["files"][0]["uri"]
        .as_str()
        .unwrap_or_else(|| panic!("a file uri in {result}"))
        .to_string();
    let read = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .expect("resources/read");
    let seen = Seen {
        negotiated,
        progress: client.service().seen().len(),
        result,
        read: serde_json::to_value(&read).expect("read json"),
    };
    client.cancel().await.expect("close");
    seen
}

/// Checks one cell of the matrix; returns a line describing what the client received.
fn check(transport: &str, asked: &ProtocolVersion, seen: &Seen) -> String {
    let cell = format!("{asked} over {transport}");
    assert_eq!(
        seen.negotiated,
        asked.as_str(),
        "{cell}: negotiated version"
    );
    assert!(seen.progress > 0, "{cell}: progress notifications");
    let r = &seen.result;
    assert_ne!(r["isError"], true, "{cell}: {r}");
    let file = &r["structuredContent"]["files"][0];
    assert_eq!(r["structuredContent"]["status"], "succeeded", "{cell}: {r}");
    let (uri, path) = (
        file["uri"].as_str().expect("uri"),
        file["path"].as_str().expect("path"),
    );

    let content = r["content"].as_array().expect("content");
    let kinds: Vec<&str> = content.iter().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"text"), "{cell}: {kinds:?}");
    assert!(
        kinds.contains(&"image"),
        "{cell}: an inline preview, {kinds:?}"
    );
    let links: Vec<&Value> = content
        .iter()
        .filter(|c| c["type"] == "resource_link")
        .collect();
    if asked.as_str() >= ProtocolVersion::V_2025_06_18.as_str() {
        assert_eq!(
            links.len(),
            1,
            "{cell}: one resource_link per file, {kinds:?}"
        );
        assert_eq!(links[0]["uri"], uri, "{cell}");
        assert_eq!(links[0]["mimeType"], "image/png", "{cell}");
    } else {
        // Older clients reject the whole result over a block type they do not know; the
        // link's URI still reaches them, as text they can pass to resources/read.
        assert!(
            links.is_empty(),
            "{cell}: no resource_link before 2025-06-18, {kinds:?}"
        );
        assert!(
            content
                .iter()
                .filter_map(|c| c["text"].as_str())
                .any(|t| t.contains(uri) && t.contains("image/png")),
            "{cell}: the resource URI and MIME in text, {r}"
        );
    }

    let blob = &seen.read["contents"][0];
    assert_eq!(blob["uri"], uri, "{cell}");
    assert_eq!(blob["mimeType"], "image/png", "{cell}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob["blob"].as_str().expect("blob"))
        .expect("base64");
    assert_eq!(
        bytes,
        std::fs::read(path).expect("file"),
        "{cell}: resource bytes"
    );
    format!(
        "{cell}: negotiated {}, {} progress, content {kinds:?}, structuredContent, resource {} bytes",
        seen.negotiated,
        seen.progress,
        bytes.len()
    )
}

#[tokio::test]
async fn every_version_over_stdio() {
    easel::logging::install_tls_provider();
    let sim = ModelScopeSim::start(sim_config()).await.expect("sim");
    for version in VERSIONS {
        let dir = tempfile::tempdir().expect("dir");
        let env = common::test_env(&sim, &dir.path().join("out"), &[]);
        let cfg = dir.path().join("easel.toml");
        std::fs::write(&cfg, "").expect("cfg");
        let (transport, _stderr) =
            TokioChildProcess::builder(tokio::process::Command::new(BIN).configure(|c| {
                c.arg("--config").arg(&cfg).arg("serve").env_clear();
                c.envs(&env);
            }))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn easel");
        let (recorder, lifecycle) = client_for(&version);
        let client = recorder
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("connect over stdio");
        eprintln!("{}", check("stdio", &version, &exercise(client).await));
    }
}

#[tokio::test]
async fn every_version_over_streamable_http() {
    let s = Served::start(sim_config(), &[]).await;
    for version in VERSIONS {
        let (recorder, lifecycle) = client_for(&version);
        let client = rmcp_client_with(&s.url("/mcp"), None, recorder, lifecycle).await;
        // 2026-07-28 has no sessions; the versions with a handshake get one.
        let sessions = u64::from(version.has_initialize());
        s.wait_health("http_sessions", sessions).await;
        eprintln!(
            "{}",
            check("Streamable HTTP", &version, &exercise(client).await)
        );
        s.wait_health("http_sessions", 0).await;
    }
}

#[tokio::test]
async fn every_version_over_stateless_http() {
    let s = Served::start(sim_config(), &[("EASEL_HTTP_STATELESS", "true")]).await;
    for version in VERSIONS {
        let (recorder, lifecycle) = client_for(&version);
        let client = rmcp_client_with(&s.url("/mcp"), None, recorder, lifecycle).await;
        eprintln!(
            "{}",
            check("stateless HTTP", &version, &exercise(client).await)
        );
        assert_eq!(s.health().await["http_sessions"], 0);
    }
}

/// The adapter serves the `initialize` versions; 2024-11-05 clients know no other HTTP
/// transport.
#[tokio::test]
async fn every_handshake_version_over_legacy_sse() {
    let s = Served::start(sim_config(), &[]).await;
    for version in VERSIONS.iter().filter(|v| v.has_initialize()) {
        let mut sse = SseClient::open(&s.base, None).await;
        let init = sse.handshake_as(None, version.as_str()).await;
        let (result, progress) = sse
            .call_with_progress(None, 2, "generate_image", gen_args(json!({})), "p-2")
            .await;
        let uri = result["structuredContent"]["files"][0]["uri"].clone();
        let read = sse
            .request(
                None,
                json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read",
                       "params": {"uri": uri}}),
            )
            .await;
        let seen = Seen {
            negotiated: init["protocolVersion"].as_str().unwrap_or_default().into(),
            progress: progress.len(),
            result,
            read: read["result"].clone(),
        };
        eprintln!("{}", check("legacy SSE", version, &seen));
    }
}

/// What the Streamable HTTP endpoint answers about versions, per the spec: `initialize`
/// echoes any version the server supports (2024-11-05 included) and otherwise names the
/// newest it can serve over a handshake; an `MCP-Protocol-Version` header naming a version
/// it does not support is a 400.
#[tokio::test]
async fn streamable_http_answers_each_requested_version_as_the_spec_says() {
    let s = Served::start(ModelScopeConfig::default(), &[]).await;
    let mcp = s.url("/mcp");
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        // No handshake exists in 2026-07-28: the newest version that has one.
        ("2026-07-28", "2025-11-25"),
        ("2023-01-01", "2025-11-25"),
    ] {
        let resp = http()
            .post(&mcp)
            .header("accept", ACCEPT_BOTH)
            .json(&initialize_body_for(asked))
            .send()
            .await
            .expect("POST initialize");
        assert_eq!(resp.status(), 200, "initialize {asked}");
        let body = resp.text().await.expect("body");
        let answer: Value = body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .chain(std::iter::once(body.as_str()))
            .find_map(|d| serde_json::from_str(d.trim()).ok())
            .unwrap_or_else(|| panic!("a JSON-RPC answer in {body}"));
        assert_eq!(
            answer["result"]["protocolVersion"], answered,
            "initialize {asked}: {answer}"
        );
    }
    let unknown = http()
        .post(&mcp)
        .header("accept", ACCEPT_BOTH)
        .header("mcp-protocol-version", "1999-01-01")
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(unknown.status(), 400, "an unsupported MCP-Protocol-Version");
    let why = unknown.text().await.expect("body");
    assert!(why.contains("MCP-Protocol-Version"), "{why}");
}
