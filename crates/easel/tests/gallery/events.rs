//! The event stream: a running job's progress as it happens and its finish, fed by the
//! same state changes as MCP progress; jobs another easel writes to the store appear too.

use std::time::Duration;

use easel_sim::ModelScopeConfig;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_running_jobs_progress_and_finish_arrive_as_events() {
    let s = Served::start(
        ModelScopeConfig {
            in_progress_polls: 6,
            ..Default::default()
        },
        Some(TOKEN),
    )
    .await;
    let mut events = Events::open(&s).await;
    let made = submit(&s, "a slow lighthouse");
    let seen = events
        .until(&made.id, |card| card["status"] == "succeeded")
        .await;
    assert_eq!(seen[0]["status"], "queued", "the submit itself is an event");
    assert!(
        seen.iter().any(|c| c["status"] == "running"
            && c["progress"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())),
        "progress while running: {seen:#?}"
    );
    let fractions: Vec<f64> = seen
        .iter()
        .filter_map(|c| c["progress"]["fraction"].as_f64())
        .collect();
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");
    let last = seen.last().expect("last");
    assert_eq!(last["images"].as_array().expect("images").len(), 1);
    assert!(
        last["images"][0]["thumb"]
            .as_str()
            .expect("thumb")
            .starts_with("/gallery/thumb/")
    );
}

#[tokio::test]
async fn a_job_another_easel_wrote_to_the_store_appears() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let mut events = Events::open(&s).await;
    // Another process: its own connection to the same SQLite file.
    let other = easel::jobs::SqliteStore::open(&s.config.data_dir.join("jobs.db")).expect("store");
    let now = easel::clock::now_ms();
    let j = job(
        "0000000000000000000000000000beef",
        now,
        json!({"status": "running", "finished_at_ms": null,
        "progress": {"fraction": 0.5, "message": "elsewhere: half way"}}),
    );
    use easel::jobs::JobStore;
    other.put(&j).expect("put");
    let seen = tokio::time::timeout(Duration::from_secs(20), events.until(&j.id, |_| true))
        .await
        .expect("seen within the polling interval");
    assert_eq!(seen[0]["progress"]["message"], "elsewhere: half way");
}

#[tokio::test]
async fn event_streams_are_bounded_and_need_a_session() {
    let s = Served::start(ModelScopeConfig::default(), Some(TOKEN)).await;
    let anonymous = http()
        .get(s.url("/gallery/events"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
    let mut open = Vec::new();
    for _ in 0..easel::gallery::DEFAULT_MAX_STREAMS {
        open.push(Events::open(&s).await);
    }
    let refused = s.get("/gallery/events").await;
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("event streams"),
        "{body}"
    );
    drop(open);
    // A place frees once a stream closes.
    super::support::eventually(|| async {
        (s.get("/gallery/events").await.status() == 200).then_some(())
    })
    .await;
}
