//! Bearer token: 401 without or with a wrong token (never echoing it), 200 with the right
//! one, on every MCP route; /healthz open; a non-loopback bind without a token refused.

use easel_sim::ModelScopeConfig;
use serde_json::json;

use super::support::*;
use crate::common::test_env;

#[tokio::test]
async fn every_mcp_route_needs_the_token_and_healthz_does_not() {
    let s = Served::start(ModelScopeConfig::default(), &[("EASEL_HTTP_TOKEN", TOKEN)]).await;
    let mcp = s.url("/mcp");

    let none = post_initialize(&mcp, None, &[]).await;
    assert_eq!(none.status(), 401);
    let challenge = none.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let text = none.text().await.expect("body");
    assert!(text.contains("no Authorization header"), "{text}");
    assert!(text.contains("EASEL_HTTP_TOKEN"), "{text}");
    assert!(!text.contains(TOKEN));

    let wrong_token = "wrong-token-9999999999999";
    let wrong = post_initialize(&mcp, Some(wrong_token), &[]).await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
    let text = wrong.text().await.expect("body");
    assert!(text.contains("wrong"), "{text}");
    assert!(
        !text.contains(wrong_token) && !text.contains(TOKEN),
        "{text}"
    );

    let basic = http()
        .post(&mcp)
        .header("accept", ACCEPT_BOTH)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&initialize_body())
        .send()
        .await
        .expect("post");
    assert_eq!(basic.status(), 401);

    let right = post_initialize(&mcp, Some(TOKEN), &[]).await;
    assert_eq!(right.status(), 200);
    assert!(right.headers().contains_key("mcp-session-id"));
    let body = right.text().await.expect("body");
    assert!(body.contains("\"serverInfo\""), "{body}");

    // The legacy SSE routes are guarded the same way.
    let sse = http().get(s.url("/sse")).send().await.expect("sse");
    assert_eq!(sse.status(), 401);
    let msg = http()
        .post(s.url("/messages?sessionId=x"))
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .expect("messages");
    assert_eq!(msg.status(), 401);
    let mut sse = SseClient::open(&s.base, Some(TOKEN)).await;
    sse.handshake(Some(TOKEN)).await;
    let unauthorized_post = sse
        .post(
            None,
            &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}),
        )
        .await;
    assert_eq!(unauthorized_post.status(), 401);

    let health = http().get(s.url("/healthz")).send().await.expect("health");
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = health.json().await.expect("json");
    assert_eq!(health["status"], "ok");
    // A load balancer's check: the store answers (the test server's is in memory or SQLite).
    assert_eq!(health["store"]["reachable"], true, "{health}");
    assert!(health["store"]["kind"].is_string(), "{health}");

    // rmcp's own client with the token works end to end.
    let client = s.rmcp_client(Some(TOKEN)).await;
    let tools = client.list_all_tools().await.expect("tools");
    assert!(tools.iter().any(|t| t.name == "generate_image"));
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn a_non_loopback_bind_without_a_token_is_refused_at_start_up() {
    let dir = tempfile::tempdir().expect("dir");
    let sim = easel_sim::ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let env = test_env(&sim, &dir.path().join("out"), &[]);
    let out = spawn_cmd(dir.path(), &env, &["--http", "0.0.0.0:0"])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to serve MCP on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("EASEL_HTTP_TOKEN"), "{stderr}");
    assert!(out.stdout.is_empty(), "it must not have listened");

    // A token too short to be safe is refused too, naming where it came from.
    let mut env = env;
    env.insert("EASEL_HTTP_TOKEN".into(), "short".into());
    let out = spawn_cmd(dir.path(), &env, &["--http", "0.0.0.0:0"])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("env EASEL_HTTP_TOKEN"), "{stderr}");
    assert!(!stderr.contains("short"), "token echoed: {stderr}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_token_never_reaches_the_logs_or_the_config_dump() {
    let dir = tempfile::tempdir().expect("dir");
    let sim = easel_sim::ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let mut env = test_env(
        &sim,
        &dir.path().join("out"),
        &[("EASEL_HTTP_TOKEN", TOKEN)],
    );
    // Everything, every crate, every level.
    env.insert("EASEL_LOG".into(), "trace".into());
    let served = Spawned::start(dir.path(), &env, &["--http", "127.0.0.1:0"]).await;
    let mcp = format!("{}/mcp", served.base);
    let wrong = "wrong-token-abcdefabcdef";
    assert_eq!(post_initialize(&mcp, Some(wrong), &[]).await.status(), 401);
    let client = super::support::rmcp_client(&mcp, Some(TOKEN)).await;
    client.list_all_tools().await.expect("tools");
    client.cancel().await.expect("close");
    let mut sse = SseClient::open(&served.base, Some(TOKEN)).await;
    sse.handshake(Some(TOKEN)).await;
    drop(sse);
    let (status, _, stderr) = served.terminate(10).await;
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "logs at trace level"
    );
    assert!(!stderr.contains(TOKEN), "the token was logged");
    assert!(!stderr.contains(wrong), "a presented token was logged");

    let config = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(dir.path().join("easel.toml"))
        .arg("config")
        .env("EASEL_HTTP_TOKEN", TOKEN)
        .output()
        .await
        .expect("easel config");
    let stdout = String::from_utf8_lossy(&config.stdout);
    assert!(config.status.success());
    assert!(stdout.contains("http.token"), "{stdout}");
    assert!(stdout.contains("(set, redacted)"), "{stdout}");
    assert!(!stdout.contains(TOKEN), "{stdout}");
}
