//! MCP tasks outlive the easel that made them: a second easel process on the same data dir
//! sees a task while its maker runs, and after the maker is killed (kill -9) a fresh process
//! answers tasks/get and finishes the job, submitting nothing twice. Drives the binary.

use std::time::{Duration, Instant};

use crate::common::*;
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use rmcp::model::{CallToolRequestParams, CallToolResponse, GetTaskParams, TaskStatus};
use rmcp::service::{RoleClient, RunningService};
use serde_json::json;

async fn status_of(client: &RunningService<RoleClient, Recorder>, id: &str) -> TaskStatus {
    client
        .get_task(GetTaskParams::new(id))
        .await
        .expect("tasks/get")
        .task
        .status()
}

#[cfg(unix)]
#[tokio::test]
async fn a_task_survives_kill_9_and_is_seen_by_another_process() {
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_millis(1500),
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", "1")]);

    let maker = serve_binary(dir.path(), &env, Recorder::declaring_tasks()).await;
    let mut params = CallToolRequestParams::new("generate_image");
    params.arguments = gen_args(json!({"count": 2})).as_object().cloned();
    let created = maker.client.call_tool_once(params).await.expect("call");
    let CallToolResponse::Task(created) = created else {
        panic!("expected a task, got {created:?}");
    };
    let id = created.task.task_id;

    // Another easel on the same data dir sees the task while its maker runs it.
    let other = serve_binary(dir.path(), &env, Recorder::declaring_tasks()).await;
    assert_eq!(status_of(&other.client, &id).await, TaskStatus::Working);

    // Kill only once the tickets are stored.
    until_submitted(&maker.client, &id).await;
    kill9(maker.pid);
    // Closing stdin ends the other easel: the fresh one below is the only one left.
    other.client.cancel().await.expect("close");
    assert_eq!(sim.submissions(), 2);

    let fresh = serve_binary(dir.path(), &env, Recorder::declaring_tasks()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let got = fresh
            .client
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .expect("tasks/get after the restart");
        if got.task.status().is_terminal() {
            break got;
        }
        assert!(Instant::now() < deadline, "never finished: {got:?}");
        let poll = got.task.task.poll_interval_ms.unwrap_or(20).min(200);
        tokio::time::sleep(Duration::from_millis(poll)).await;
    };
    assert_eq!(done.task.status(), TaskStatus::Completed, "{done:?}");
    assert_eq!(sim.submissions(), 2, "the restart must not submit again");
    let job = call(&fresh.client, "get_job", json!({"job_id": id})).await;
    assert_eq!(structured(&job)["files"].as_array().map(Vec::len), Some(2));
    fresh.client.cancel().await.expect("close");
}

/// A batch task killed after its first line was submitted: a fresh easel reading the task
/// resumes the batch from its record, submits the second line once and never the first
/// again, and completes with both.
#[cfg(unix)]
#[tokio::test]
async fn a_batch_task_survives_kill_9_and_is_resumed_by_tasks_get() {
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_millis(1500),
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", "1")]);

    let maker = serve_binary(dir.path(), &env, Recorder::declaring_tasks()).await;
    let mut params = CallToolRequestParams::new("generate_batch");
    params.arguments = json!({"prompts": ["a red kite", "a blue kite"], "concurrency": 1,
        "defaults": {"size": "256x256"}, "batch_key": "kites"})
    .as_object()
    .cloned();
    let created = maker.client.call_tool_once(params).await.expect("call");
    let CallToolResponse::Task(created) = created else {
        panic!("expected a task, got {created:?}");
    };
    assert_eq!(created.task.task_id, "batch:kites");
    // Kill only once the first line's ticket is stored (its job reports "submitted" or
    // later): a kill in the middle of a submission fails that job rather than paying twice.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let listed = call(&maker.client, "list_jobs", json!({})).await;
        if let Some(job) = structured(&listed)["jobs"][0]["job_id"].as_str() {
            break job.to_string();
        }
        assert!(Instant::now() < deadline, "no line was ever submitted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    until_submitted(&maker.client, &first).await;
    kill9(maker.pid);
    assert_eq!(sim.submissions(), 1, "one line at a time");

    let fresh = serve_binary(dir.path(), &env, Recorder::declaring_tasks()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let got = fresh
            .client
            .get_task(GetTaskParams::new("batch:kites"))
            .await
            .expect("tasks/get after the restart");
        if got.task.status().is_terminal() {
            break got;
        }
        assert!(Instant::now() < deadline, "never finished: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done.task.status(), TaskStatus::Completed, "{done:?}");
    let rmcp::model::TaskPayload::Completed { result } = &done.task.payload else {
        panic!("no result: {done:?}");
    };
    assert_eq!(result["structuredContent"]["succeeded"], 2, "{result:?}");
    assert_eq!(sim.submissions(), 2, "each line submitted once");
    fresh.client.cancel().await.expect("close");
}

/// A publish whose easel stopped mid-send leaves its record pending. Once no send could
/// still be running (the publisher's time-outs, plus a margin, have passed since its last
/// update), tasks/get answers completed with "unknown whether it was published" instead of
/// working forever; a recent pending publish still reads as working.
#[tokio::test]
async fn a_publish_left_pending_by_a_stopped_easel_ends_as_unknown() {
    use easel::jobs::{JobStore, NoteContent, NoteOutcome, NoteRecord, SqliteStore};
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[]);
    let data = out.with_file_name("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let now = easel::clock::now_ms();
    let pending = |id: &str, updated_at_ms: u64| NoteRecord {
        id: id.into(),
        publisher: "draft".into(),
        kind: "draft".into(),
        outcome: NoteOutcome::Pending,
        note: NoteContent {
            title: "a kite".into(),
            ..NoteContent::default()
        },
        message: "sending".into(),
        answer: None,
        created_at_ms: updated_at_ms,
        updated_at_ms,
    };
    {
        let store = SqliteStore::open(&data.join("jobs.db")).expect("store");
        store
            .record_note(&pending("note-stale", now - 3_600_000))
            .expect("stale note");
        store
            .record_note(&pending("note-recent", now))
            .expect("recent note");
    }

    let easel = serve_binary(dir.path(), &env, Recorder::declaring_tasks()).await;
    assert_eq!(
        status_of(&easel.client, "note-recent").await,
        TaskStatus::Working
    );
    let stale = easel
        .client
        .get_task(GetTaskParams::new("note-stale"))
        .await
        .expect("tasks/get");
    assert_eq!(stale.task.status(), TaskStatus::Completed, "{stale:?}");
    let said = serde_json::to_string(&stale).expect("json");
    assert!(
        said.contains("UNKNOWN whether it was published")
            && said.contains("stopped before it recorded the service's answer"),
        "{said}"
    );
    easel.client.cancel().await.expect("close");
}
