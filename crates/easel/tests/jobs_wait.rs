//! Waiting: a job longer than wait_seconds returns a handle; get_job finishes it; progress
//! notifications arrive in order.

mod common;

use std::time::Duration;

use common::*;
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
