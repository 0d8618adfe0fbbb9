//! Limits: 413 for oversized bodies, 503 past `max_sessions`, 429 past
//! `max_requests_per_session`, each with a message naming the setting.

use std::time::Duration;

use easel_sim::ModelScopeConfig;
use serde_json::{Value, json};

use super::support::*;
use crate::common::gen_args;

const PROTOCOL: &str = "2025-06-18";

/// Opens a Streamable HTTP session by hand; returns its id.
async fn open_session(url: &str) -> String {
    let resp = post_initialize(url, None, &[]).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let _ = resp.text().await;
    let ack = session_post(
        url,
        &id,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(ack.status(), 202);
    id
}

async fn session_post(url: &str, session: &str, body: &Value) -> reqwest::Response {
    http()
        .post(url)
        .header("accept", ACCEPT_BOTH)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", PROTOCOL)
        .json(body)
        .send()
        .await
        .expect("POST in session")
}

fn padded(bytes: usize) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"pad": "x".repeat(bytes)}})
}

#[tokio::test]
async fn oversized_bodies_are_413_on_every_post_route() {
    let s = Served::start(
        ModelScopeConfig::default(),
        &[("EASEL_HTTP_MAX_BODY_BYTES", "65536")],
    )
    .await;
    let mcp = s.url("/mcp");

    let big = http()
        .post(&mcp)
        .header("accept", ACCEPT_BOTH)
        .json(&padded(70_000))
        .send()
        .await
        .expect("post");
    assert_eq!(big.status(), 413);
    assert!(
        big.text()
            .await
            .expect("body")
            .contains("http.max_body_bytes")
    );

    let session = open_session(&mcp).await;
    let in_session = session_post(&mcp, &session, &padded(70_000)).await;
    assert_eq!(in_session.status(), 413, "rmcp's limit inside a session");
    let fits = session_post(&mcp, &session, &padded(1_000)).await;
    assert_eq!(fits.status(), 200);

    let sse = SseClient::open(&s.base, None).await;
    let big = sse.post(None, &padded(70_000)).await;
    assert_eq!(big.status(), 413);
    assert!(
        big.text()
            .await
            .expect("body")
            .contains("http.max_body_bytes")
    );
}

#[tokio::test]
async fn the_default_body_limit_is_four_mebibytes() {
    let s = Served::start(ModelScopeConfig::default(), &[]).await;
    let big = http()
        .post(s.url("/mcp"))
        .header("accept", ACCEPT_BOTH)
        .json(&padded(4 * 1024 * 1024))
        .send()
        .await
        .expect("post");
    assert_eq!(big.status(), 413);
}

#[tokio::test]
async fn sessions_past_the_cap_get_503_until_one_closes() {
    let s = Served::start(
        ModelScopeConfig::default(),
        &[("EASEL_HTTP_MAX_SESSIONS", "1")],
    )
    .await;
    let mcp = s.url("/mcp");

    let sse = SseClient::open(&s.base, None).await;
    s.wait_health("sse_sessions", 1).await;
    let second = http().get(s.url("/sse")).send().await.expect("sse");
    assert_eq!(second.status(), 503);
    assert!(second.headers().contains_key("retry-after"));
    assert!(
        second
            .text()
            .await
            .expect("body")
            .contains("http.max_sessions")
    );
    assert_eq!(post_initialize(&mcp, None, &[]).await.status(), 503);

    drop(sse);
    s.wait_health("sse_sessions", 0).await;
    let session = open_session(&mcp).await;
    s.wait_health("http_sessions", 1).await;
    let refused = http().get(s.url("/sse")).send().await.expect("sse");
    assert_eq!(refused.status(), 503);

    let closed = http()
        .delete(&mcp)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("delete");
    assert!(closed.status().is_success(), "{}", closed.status());
    s.wait_health("http_sessions", 0).await;
    let _sse = SseClient::open(&s.base, None).await;
}

#[tokio::test]
async fn requests_past_the_per_session_cap_get_429() {
    let s = Served::start(
        ModelScopeConfig {
            latency: Duration::from_millis(1500),
            in_progress_polls: 0,
            ..Default::default()
        },
        &[("EASEL_HTTP_MAX_REQUESTS_PER_SESSION", "1")],
    )
    .await;
    let call = |id: u64, wait: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "generate_image", "arguments": gen_args(json!({"wait_seconds": wait}))}})
    };
    let list = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"});

    // Legacy SSE: a request counts until its answer leaves on the stream.
    let mut sse = SseClient::open(&s.base, None).await;
    sse.handshake(None).await;
    assert_eq!(sse.post(None, &call(10, 1)).await.status(), 202);
    let refused = sse.post(None, &list(11)).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("http.max_requests_per_session")
    );
    loop {
        let e = sse.next_event().await;
        let v: Value = serde_json::from_str(&e.data).expect("json");
        if v["id"] == 10 {
            break;
        }
    }
    let listed = sse.request(None, list(12)).await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");

    // Streamable HTTP: a POST counts while its response stream is open.
    let mcp = s.url("/mcp");
    let session = open_session(&mcp).await;
    let slow = session_post(&mcp, &session, &call(20, 2)).await;
    assert_eq!(slow.status(), 200);
    let refused = session_post(&mcp, &session, &list(21)).await;
    assert_eq!(refused.status(), 429);
    drop(slow);
    let ok = eventually(10, "the slot to free", || async {
        let r = session_post(&mcp, &session, &list(22)).await;
        (r.status() == 200).then_some(r)
    })
    .await;
    assert!(ok.text().await.expect("body").contains("generate_image"));
}
