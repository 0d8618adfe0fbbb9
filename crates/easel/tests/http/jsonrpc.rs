//! Malformed JSON-RPC over HTTP, as raw bodies: a request with a readable id and bad params
//! gets -32602 carrying that id; text that is not JSON gets -32700 with `"id": null`.

use easel_sim::ModelScopeConfig;
use serde_json::{Value, json};

use super::support::*;

async fn post_raw(url: &str, session: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = http()
        .post(url)
        .header("accept", ACCEPT_BOTH)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = session {
        req = req
            .header("mcp-session-id", s)
            .header("mcp-protocol-version", "2025-06-18");
    }
    let resp = req.send().await.expect("POST");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} {text}: {e}"));
    (status, value)
}

#[tokio::test]
async fn streamable_http_answers_malformed_messages_with_their_id_and_code() {
    let s = Served::start(ModelScopeConfig::default(), &[]).await;
    let mcp = s.url("/mcp");

    let (status, v) = post_raw(&mcp, None, r#"{"jsonrpc":"2.0","id":1,"#).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert!(
        v.as_object().expect("object").contains_key("id") && v["id"].is_null(),
        "{v}"
    );

    let (status, v) = post_raw(
        &mcp,
        None,
        r#"{"jsonrpc":"2.0","id":"init-1","method":"initialize","params":5}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!("init-1"), json!(-32602)),
        "{v}"
    );

    // In a session: params that do not fit tools/call (no name).
    let init = post_initialize(&mcp, None, &[]).await;
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_string();
    let _ = init.text().await;
    let (status, v) = post_raw(
        &mcp,
        Some(&session),
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{}}}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], 5, "{v}");
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let message = v["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("tools/call") && message.contains("name"),
        "{message}"
    );
}

#[tokio::test]
async fn legacy_sse_answers_malformed_requests_on_the_stream() {
    let s = Served::start(ModelScopeConfig::default(), &[]).await;
    let mut sse = SseClient::open(&s.base, None).await;
    sse.handshake(None).await;
    let answer = sse
        .request(
            None,
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": 5}),
        )
        .await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");

    let resp = http()
        .post(&sse.endpoint)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert!(v["id"].is_null(), "{v}");
}
