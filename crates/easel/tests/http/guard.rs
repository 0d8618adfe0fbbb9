//! DNS-rebinding defence: a foreign Host or Origin is refused (403) on /mcp and on the
//! legacy SSE routes; loopback names and configured names pass.

use easel_sim::ModelScopeConfig;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn foreign_host_and_origin_are_refused_on_every_mcp_route() {
    let s = Served::start(
        ModelScopeConfig::default(),
        &[
            ("EASEL_HTTP_ALLOWED_HOSTS", "img.example.com"),
            ("EASEL_HTTP_ALLOWED_ORIGINS", "https://app.example.com:443"),
        ],
    )
    .await;
    let mcp = s.url("/mcp");

    let evil_host = post_initialize(&mcp, None, &[("host", "evil.example:80")]).await;
    assert_eq!(evil_host.status(), 403);
    let text = evil_host.text().await.expect("body");
    assert!(text.contains("Host header is not allowed"), "{text}");
    assert!(text.contains("http.allowed_hosts"), "{text}");

    let evil_origin = post_initialize(&mcp, None, &[("origin", "http://evil.example")]).await;
    assert_eq!(evil_origin.status(), 403);
    assert!(
        evil_origin
            .text()
            .await
            .expect("body")
            .contains("Origin header is not allowed")
    );

    for (name, value) in [
        ("host", "evil.example"),
        ("origin", "http://evil.example:8765"),
    ] {
        let sse = http()
            .get(s.url("/sse"))
            .header(name, value)
            .send()
            .await
            .expect("sse");
        assert_eq!(sse.status(), 403, "GET /sse with {name}: {value}");
        let msg = http()
            .post(s.url("/messages?sessionId=x"))
            .header(name, value)
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .expect("messages");
        assert_eq!(msg.status(), 403, "POST /messages with {name}: {value}");
    }

    // Loopback and configured names pass.
    for headers in [
        vec![("origin", "http://localhost:5173")],
        vec![("host", "localhost:1234")],
        vec![("host", "img.example.com")],
        vec![("origin", "https://app.example.com")],
    ] {
        let ok = post_initialize(&mcp, None, &headers).await;
        assert_eq!(ok.status(), 200, "{headers:?}");
    }
    let sse = http()
        .get(s.url("/sse"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), 200);

    // /healthz is not an MCP route: it answers whatever the Host.
    let health = http()
        .get(s.url("/healthz"))
        .header("host", "evil.example")
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
}
