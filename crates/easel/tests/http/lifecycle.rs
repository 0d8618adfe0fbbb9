//! Sessions end when clients vanish, their jobs do not; SIGTERM stops the server promptly
//! with exit 0 and a restart finishes the job without paying for it twice.

use std::time::Duration;

use easel_sim::{ModelScopeConfig, ModelScopeSim};
use serde_json::{Value, json};

use super::support::*;
use crate::common::{call, gen_args, is_error, structured, test_env, text};

#[tokio::test]
async fn a_vanished_sse_client_is_cleaned_up_and_its_job_completes() {
    let s = Served::start(
        ModelScopeConfig {
            latency: Duration::from_millis(1500),
            in_progress_polls: 0,
            ..Default::default()
        },
        &[],
    )
    .await;
    let mut sse = SseClient::open(&s.base, None).await;
    sse.handshake(None).await;
    s.wait_health("sse_sessions", 1).await;
    let posted = sse
        .post(
            None,
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "generate_image", "arguments": gen_args(json!({"wait_seconds": 60}))}}),
        )
        .await;
    assert_eq!(posted.status(), 202);
    eventually(10, "the job to be submitted", || async {
        (s.sim.submissions() == 1).then_some(())
    })
    .await;

    // The client goes away mid-generation: the stream is dropped, nothing else is said.
    drop(sse);
    s.wait_health("sse_sessions", 0).await;

    // The job runs on and is fetchable from a new session on another transport.
    let client = s.rmcp_client(None).await;
    let listed = call(&client, "list_jobs", json!({})).await;
    let jobs = structured(&listed)["jobs"].clone();
    assert_eq!(jobs.as_array().expect("jobs").len(), 1, "{jobs}");
    let id = jobs[0]["job_id"].as_str().expect("id").to_string();
    let done = call(
        &client,
        "get_job",
        json!({"job_id": id, "wait_seconds": 30, "preview": "none"}),
    )
    .await;
    assert!(!is_error(&done), "{}", text(&done));
    let d = structured(&done);
    assert_eq!(d["status"], "succeeded");
    assert!(std::path::Path::new(d["files"][0]["path"].as_str().expect("path")).exists());
    assert_eq!(s.sim.submissions(), 1);
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn an_idle_streamable_http_session_without_delete_is_closed() {
    let s = Served::start(
        ModelScopeConfig::default(),
        &[("EASEL_HTTP_SESSION_IDLE_SECS", "1")],
    )
    .await;
    let resp = post_initialize(&s.url("/mcp"), None, &[]).await;
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    s.wait_health("http_sessions", 1).await;
    // No DELETE, no further requests: the client is gone.
    s.wait_health("http_sessions", 0).await;
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_during_a_job_exits_cleanly_and_a_restart_finishes_it_once() {
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_millis(3000),
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", "1")]);

    let first = Spawned::start(dir.path(), &env, &["--http", "127.0.0.1:0"]).await;
    let client = rmcp_client(&format!("{}/mcp", first.base), None).await;
    let r = call(
        &client,
        "generate_image",
        gen_args(json!({"wait_seconds": 0})),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    // Stop only once the ticket is stored (the job says "submitted" or later).
    eventually(20, "the ticket to be stored", || async {
        let s = call(
            &client,
            "get_job",
            json!({"job_id": id, "wait_seconds": 0, "preview": "none"}),
        )
        .await;
        (structured(&s)["progress"]["fraction"]
            .as_f64()
            .unwrap_or(0.0)
            >= 0.05)
            .then_some(())
    })
    .await;

    let (status, elapsed, stderr) = first.terminate(10).await;
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(
        elapsed < Duration::from_secs(5),
        "took {elapsed:?}\n{stderr}"
    );
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    drop(client);
    assert_eq!(sim.submissions(), 1);
    assert!(
        files_under(&out).is_empty(),
        "nothing saved before the stop"
    );

    let second = Spawned::start(dir.path(), &env, &["--http", "127.0.0.1:0"]).await;
    let client = rmcp_client(&format!("{}/mcp", second.base), None).await;
    let done = call(
        &client,
        "get_job",
        json!({"job_id": id, "wait_seconds": 60, "preview": "none"}),
    )
    .await;
    let d: Value = structured(&done);
    assert_eq!(d["status"], "succeeded", "{}", text(&done));
    assert_eq!(d["files"].as_array().expect("files").len(), 1);
    assert_eq!(sim.submissions(), 1, "the restart must not submit again");
    let files = files_under(&out);
    assert_eq!(files.len(), 1, "saved exactly once: {files:?}");
    client.cancel().await.expect("close");
    let (status, _, stderr) = second.terminate(10).await;
    assert!(status.success(), "{stderr}");
}
