//! The whole flow over each HTTP transport: the same tools, resources and job store as
//! stdio. Stateful Streamable HTTP through rmcp's client, stateless JSON by hand, legacy SSE
//! through the small client.

use base64::Engine;
use easel_sim::ModelScopeConfig;
use rmcp::model::ReadResourceRequestParams;
use serde_json::{Value, json};

use super::support::*;
use crate::common::{call, gen_args, is_error, structured, text};

fn decode(b64: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

#[tokio::test]
async fn streamable_http_generates_with_progress_and_serves_the_image_as_a_resource() {
    let s = Served::start(
        ModelScopeConfig {
            in_progress_polls: 3,
            ..Default::default()
        },
        &[("EASEL_HTTP_TOKEN", TOKEN)],
    )
    .await;
    let client = s.rmcp_client(Some(TOKEN)).await;
    s.wait_health("http_sessions", 1).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().expect("implementation").name,
        "easel"
    );

    let r = call(&client, "generate_image", gen_args(json!({}))).await;
    assert!(!is_error(&r), "{}", text(&r));
    let out = structured(&r);
    assert_eq!(out["status"], "succeeded");
    assert!(
        !client.service().seen().is_empty(),
        "progress notifications over HTTP"
    );
    let path = out["files"][0]["path"].as_str().expect("path");
    let uri = out["files"][0]["uri"].as_str().expect("uri").to_string();
    assert!(
        uri.starts_with("easel://jobs/") && uri.ends_with("/images/0"),
        "{uri}"
    );

    let read = client
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .expect("read image");
    let contents = serde_json::to_value(&read.contents[0]).expect("json");
    assert_eq!(contents["mimeType"], "image/png");
    assert_eq!(
        decode(contents["blob"].as_str().expect("blob")),
        std::fs::read(path).expect("file on disk")
    );

    for bad in [
        "easel://jobs/../../x/images/0",
        "easel://jobs/..%2F..%2Fx/images/0",
        "easel://jobs/x/images/../../../etc/passwd",
    ] {
        let err = client
            .read_resource(ReadResourceRequestParams::new(bad))
            .await;
        assert!(err.is_err(), "{bad} must not be readable over HTTP");
    }

    client.cancel().await.expect("close");
    s.wait_health("http_sessions", 0).await;
}

#[tokio::test]
async fn stateless_mode_answers_plain_json_without_sessions() {
    let s = Served::start(
        ModelScopeConfig::default(),
        &[("EASEL_HTTP_STATELESS", "true")],
    )
    .await;
    let mcp = s.url("/mcp");
    let init = post_initialize(&mcp, None, &[]).await;
    assert_eq!(init.status(), 200);
    assert!(!init.headers().contains_key("mcp-session-id"));
    assert!(
        init.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json")
    );
    let post = |body: Value| {
        http()
            .post(&mcp)
            .header("accept", ACCEPT_BOTH)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
    };
    let tools: Value = post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await
        .expect("tools/list")
        .json()
        .await
        .expect("json");
    assert!(
        tools["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .any(|t| t["name"] == "generate_image"),
        "{tools}"
    );
    let done: Value = post(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "generate_image", "arguments": gen_args(json!({}))}}))
    .await
    .expect("tools/call")
    .json()
    .await
    .expect("json");
    let result = &done["result"];
    assert_eq!(result["structuredContent"]["status"], "succeeded", "{done}");
    let job = result["structuredContent"]["job_id"].as_str().expect("id");
    // The job store is shared: a later, unrelated request finds the job.
    let got: Value = post(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "get_job", "arguments": {"job_id": job, "preview": "none"}}}))
    .await
    .expect("get_job")
    .json()
    .await
    .expect("json");
    assert_eq!(
        got["result"]["structuredContent"]["status"], "succeeded",
        "{got}"
    );
    assert_eq!(s.health().await["http_sessions"], 0);
}

#[tokio::test]
async fn legacy_sse_generates_with_progress_and_reads_resources() {
    let s = Served::start(
        ModelScopeConfig {
            in_progress_polls: 3,
            ..Default::default()
        },
        &[],
    )
    .await;
    let mut sse = SseClient::open(&s.base, None).await;
    assert!(
        sse.endpoint.contains("/messages?sessionId="),
        "{}",
        sse.endpoint
    );
    sse.handshake(None).await;
    s.wait_health("sse_sessions", 1).await;

    let tools = sse
        .request(
            None,
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        )
        .await;
    assert!(tools["result"]["tools"].as_array().expect("tools").len() >= 4);

    let (result, progress) = sse
        .call_with_progress(None, 3, "generate_image", gen_args(json!({})), "p-1")
        .await;
    assert!(!progress.is_empty(), "progress notifications over SSE");
    assert_eq!(
        result["structuredContent"]["status"], "succeeded",
        "{result}"
    );
    let uri = result["structuredContent"]["files"][0]["uri"]
        .as_str()
        .expect("uri")
        .to_string();
    let path = result["structuredContent"]["files"][0]["path"]
        .as_str()
        .expect("path")
        .to_string();

    let read = sse
        .request(
            None,
            json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": uri}}),
        )
        .await;
    let blob = read["result"]["contents"][0]["blob"]
        .as_str()
        .expect("blob");
    assert_eq!(decode(blob), std::fs::read(&path).expect("file"));

    let bad = sse
        .request(
            None,
            json!({"jsonrpc": "2.0", "id": 5, "method": "resources/read",
                   "params": {"uri": "easel://jobs/../../x/images/0"}}),
        )
        .await;
    assert!(bad.get("error").is_some(), "{bad}");

    // A POST for a session that does not exist is a clear 404.
    let unknown = http()
        .post(s.url("/messages?sessionId=nope"))
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .expect("post");
    assert_eq!(unknown.status(), 404);
}
