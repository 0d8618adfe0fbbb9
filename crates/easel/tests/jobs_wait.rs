//! Waiting: a job longer than wait_seconds returns a handle; get_job finishes it; progress
//! notifications arrive in order.

use std::time::Duration;

use crate::common::*;
use easel_sim::ModelScopeConfig;
use serde_json::json;

#[tokio::test]
async fn wait_zero_returns_a_handle_and_get_job_returns_the_files() {
    let h = start(
        ModelScopeConfig {
            latency: Duration::from_millis(400),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call("generate_image", gen_args(json!({"wait_seconds": 0})))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert!(
        matches!(s["status"].as_str(), Some("queued" | "running")),
        "{s}"
    );
    assert!(s["next_step"].as_str().expect("next").contains("get_job"));
    assert!(s["files"].as_array().expect("files").is_empty());
    let id = s["job_id"].as_str().expect("id").to_string();

    let done = h
        .call("get_job", json!({"job_id": id, "wait_seconds": 30}))
        .await;
    assert!(!is_error(&done), "{}", text(&done));
    let d = structured(&done);
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["job_id"], id);
    assert_eq!(d["files"].as_array().expect("files").len(), 1);
    assert!(std::path::Path::new(d["files"][0]["path"].as_str().expect("p")).exists());
}

#[tokio::test]
async fn get_job_with_an_unknown_id_is_a_clear_error() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h.call("get_job", json!({"job_id": "nope"})).await;
    assert!(is_error(&r));
    assert!(text(&r).contains("job_id"), "{}", text(&r));
}

#[tokio::test]
async fn progress_notifications_increase_and_end_before_the_result() {
    let h = start(
        ModelScopeConfig {
            latency: Duration::from_millis(300),
            in_progress_polls: 3,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call("generate_image", gen_args(json!({"count": 2})))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let seen = h.recorder.seen();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[1].progress > w[0].progress),
        "not increasing: {seen:?}"
    );
    assert!(seen.iter().all(|p| p.total == Some(100.0)));
    let messages: Vec<String> = seen.iter().filter_map(|p| p.message.clone()).collect();
    assert!(
        messages.iter().any(|m| m.contains("submitt")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("of 2 image(s) finished")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_silent_backend_still_gets_heartbeat_progress() {
    let h = start(
        ModelScopeConfig {
            latency: Duration::from_millis(700),
            in_progress_polls: 0,
            ..Default::default()
        },
        &[
            ("EASEL_JOBS_HEARTBEAT_MS", "50"),
            ("EASEL_MODELSCOPE_POLL_MAX_MS", "20"),
        ],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(!is_error(&r), "{}", text(&r));
    let seen = h.recorder.seen();
    assert!(
        seen.windows(2).all(|w| w[1].progress > w[0].progress),
        "not increasing: {seen:?}"
    );
    // While the task sits in PROCESSING nothing changes, yet notifications keep coming.
    let longest_same = seen
        .chunk_by(|a, b| a.message == b.message)
        .map(|run| run.len())
        .max()
        .unwrap_or(0);
    assert!(
        longest_same >= 4,
        "expected heartbeats repeating one message: {seen:?}"
    );
}

#[tokio::test]
async fn cancel_job_stops_a_running_job_and_nothing_is_saved_later() {
    let h = start(
        ModelScopeConfig {
            latency: Duration::from_millis(500),
            in_progress_polls: 0,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call("generate_image", gen_args(json!({"wait_seconds": 0})))
        .await;
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    // Wait until the task exists at the service, so the cancel happens mid-run.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while h.sim.submissions() == 0 {
        assert!(std::time::Instant::now() < deadline, "never submitted");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let c = h.call("cancel_job", json!({"job_id": id})).await;
    assert!(!is_error(&c), "{}", text(&c));
    let s = structured(&c);
    assert_eq!(s["status"], "cancelled");
    assert!(
        text(&c).contains("no API to stop"),
        "ModelScope cannot cancel; say so: {}",
        text(&c)
    );
    let task_id = h
        .sim
        .requests()
        .iter()
        .find_map(|q| q.path.strip_prefix("/v1/tasks/").map(str::to_string));
    let polls_at_cancel = task_id.as_deref().map_or(0, |t| h.sim.polls(t));
    // Let the service finish the task; easel must not pick it up.
    if let Some(t) = task_id.as_deref() {
        while h.sim.mark_done_at(t).is_none() {
            assert!(std::time::Instant::now() < deadline, "sim never finished");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let again = h
            .call("get_job", json!({"job_id": id, "wait_seconds": 0}))
            .await;
        assert_eq!(structured(&again)["status"], "cancelled");
        assert_eq!(
            h.sim.polls(t),
            polls_at_cancel,
            "easel kept polling a cancelled job"
        );
    }
    assert!(
        h.files().is_empty(),
        "a cancelled job saved files: {:?}",
        h.files()
    );
    // Cancelling a finished job says so.
    let twice = h.call("cancel_job", json!({"job_id": id})).await;
    assert!(
        text(&twice).contains("already finished"),
        "{}",
        text(&twice)
    );
}

#[tokio::test]
async fn a_request_cancelled_by_the_client_leaves_the_job_running() {
    use rmcp::model::{
        CallToolRequestParams, ClientRequest, NumberOrString, ProgressToken, Request,
        RequestMetaObject,
    };
    use rmcp::service::PeerRequestOptions;
    let h = start(
        ModelScopeConfig {
            latency: Duration::from_millis(600),
            in_progress_polls: 0,
            ..Default::default()
        },
        &[],
    )
    .await;
    let mut params = CallToolRequestParams::new("generate_image");
    params.arguments = gen_args(json!({"wait_seconds": 60})).as_object().cloned();
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::Number(7),
    )));
    let handle = h
        .client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::default(),
        )
        .await
        .expect("sent");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while h.recorder.seen().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no progress before cancel"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    handle
        .cancel(Some("user pressed stop".into()))
        .await
        .expect("cancelled");
    let listed = h.call("list_jobs", json!({})).await;
    let jobs = structured(&listed)["jobs"]
        .as_array()
        .expect("jobs")
        .clone();
    assert_eq!(jobs.len(), 1);
    assert!(
        matches!(jobs[0]["status"].as_str(), Some("queued" | "running")),
        "{jobs:?}"
    );
    let id = jobs[0]["job_id"].as_str().expect("id");
    let done = h
        .call("get_job", json!({"job_id": id, "wait_seconds": 30}))
        .await;
    assert_eq!(structured(&done)["status"], "succeeded", "{}", text(&done));
    assert_eq!(h.files().len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_never_submits_twice() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let args = gen_args(json!({"idempotency_key": "batch-7-line-3", "count": 2}));
    let first = h.call("generate_image", args.clone()).await;
    let second = h.call("generate_image", args).await;
    assert_eq!(structured(&first)["job_id"], structured(&second)["job_id"]);
    assert!(
        text(&second).contains("idempotency_key matched"),
        "{}",
        text(&second)
    );
    assert_eq!(
        h.sim.submissions(),
        2,
        "one job of two images, submitted once"
    );
    assert_eq!(h.files().len(), 2);
}

#[tokio::test]
async fn jobs_beyond_the_cap_wait_in_line_with_their_position() {
    let h = start(
        ModelScopeConfig {
            latency: Duration::from_millis(300),
            in_progress_polls: 0,
            ..Default::default()
        },
        &[
            ("EASEL_JOBS_MAX_RUNNING_PER_BACKEND", "1"),
            ("EASEL_JOBS_MAX_QUEUED", "2"),
        ],
    )
    .await;
    let mut ids = Vec::new();
    for seed in 1..=3 {
        let r = h
            .call(
                "generate_image",
                gen_args(json!({"wait_seconds": 0, "seed": seed})),
            )
            .await;
        assert!(!is_error(&r), "{}", text(&r));
        ids.push(structured(&r)["job_id"].as_str().expect("id").to_string());
    }
    let third = h
        .call("get_job", json!({"job_id": ids[2], "wait_seconds": 0}))
        .await;
    let p = &structured(&third)["progress"];
    assert_eq!(p["queue_position"], 2, "{p}");
    assert!(
        p["message"].as_str().expect("m").contains("position 2"),
        "{p}"
    );
    // The line is full: one running, two waiting.
    let refused = h
        .call(
            "generate_image",
            gen_args(json!({"wait_seconds": 0, "seed": 9})),
        )
        .await;
    assert!(is_error(&refused));
    assert!(
        text(&refused).contains("jobs.max_queued"),
        "{}",
        text(&refused)
    );
    for id in &ids {
        let done = h
            .call("get_job", json!({"job_id": id, "wait_seconds": 30}))
            .await;
        assert_eq!(structured(&done)["status"], "succeeded", "{}", text(&done));
    }
    assert_eq!(h.files().len(), 3);
}

#[tokio::test]
async fn list_jobs_filters_and_get_job_copies() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let ok = h.call("generate_image", gen_args(json!({}))).await;
    let id = structured(&ok)["job_id"].as_str().expect("id").to_string();
    let listed = h
        .call("list_jobs", json!({"status": "succeeded", "since": "1h"}))
        .await;
    let jobs = structured(&listed)["jobs"]
        .as_array()
        .expect("jobs")
        .clone();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["job_id"], id.as_str());
    let none = h.call("list_jobs", json!({"status": "failed"})).await;
    assert!(
        structured(&none)["jobs"]
            .as_array()
            .expect("jobs")
            .is_empty()
    );
    let bad = h.call("list_jobs", json!({"since": "someday"})).await;
    assert!(
        is_error(&bad) && text(&bad).contains("since"),
        "{}",
        text(&bad)
    );

    let copied = h
        .call("get_job", json!({"job_id": id, "copy_to": "album"}))
        .await;
    let copies = structured(&copied)["copies"]
        .as_array()
        .expect("copies")
        .clone();
    assert_eq!(copies.len(), 1);
    let copy = std::path::PathBuf::from(copies[0].as_str().expect("p"));
    assert!(copy.parent().expect("dir").ends_with("album"));
    assert_eq!(
        std::fs::read(&copy).expect("copy"),
        std::fs::read(structured(&copied)["files"][0]["path"].as_str().expect("p")).expect("orig")
    );
    let escape = h
        .call("get_job", json!({"job_id": id, "copy_to": "../../x"}))
        .await;
    assert!(
        is_error(&escape) && text(&escape).contains("copy_to"),
        "{}",
        text(&escape)
    );
}
