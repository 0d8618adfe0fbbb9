//! Two easels (replicas) on one PostgreSQL job store and one output root, in this process:
//! a job run by one is followed, read as a resource and cancelled through the other.
//! Needs a test cluster (`EASEL_TEST_DATABASE_URL`, see scripts/pg-cluster); without one
//! these tests note it and pass, except in CI, where a missing cluster fails them.

use std::time::Duration;

use base64::Engine;
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use serde_json::json;

use crate::common::*;

type Client = rmcp::service::RunningService<rmcp::RoleClient, Recorder>;

/// What each test here stands on: a fresh database (held: no other test stops the cluster
/// meanwhile, see common::pg), a ModelScope simulator answering after `latency`, and two
/// replicas sharing both and one output root. `None` without a test cluster.
struct Setting {
    _db: crate::common::pg::PgDatabase,
    sim: ModelScopeSim,
    dir: tempfile::TempDir,
    a: Client,
    b: Client,
}

async fn setting(latency: Duration) -> Option<Setting> {
    let db = crate::common::pg::database().await?;
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let [a, b] = replicas(&sim, dir.path(), &db.url).await;
    Some(Setting {
        _db: db,
        sim,
        dir,
        a,
        b,
    })
}

/// Two replicas' clients: same database and output root, each its own data dir.
async fn replicas(
    sim: &ModelScopeSim,
    dir: &std::path::Path,
    url: &str,
) -> [rmcp::service::RunningService<rmcp::RoleClient, Recorder>; 2] {
    easel::logging::install_tls_provider();
    let out = dir.join("out");
    let mut clients = Vec::new();
    for name in ["a", "b"] {
        let data = dir.join(format!("data-{name}"));
        let env = test_env(
            sim,
            &out,
            &[
                ("EASEL_DATABASE_URL", url),
                ("EASEL_DATA_DIR", data.to_str().expect("utf-8")),
            ],
        );
        let home = dir.join(format!("home-{name}"));
        std::fs::create_dir_all(&home).expect("home");
        let (client, _) = serve(&config(&home, &env)).await;
        clients.push(client);
    }
    let [a, b]: [_; 2] = clients.try_into().ok().expect("two");
    [a, b]
}

#[tokio::test]
async fn a_job_run_by_one_replica_is_followed_and_read_through_the_other() {
    let Some(s) = setting(Duration::from_millis(800)).await else {
        return;
    };
    let (sim, a, b) = (&s.sim, &s.a, &s.b);

    let r = call(&a, "generate_image", gen_args(json!({"wait_seconds": 0}))).await;
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    let done = call(&b, "get_job", json!({"job_id": id, "wait_seconds": 60})).await;
    let s = structured(&done);
    assert_eq!(s["status"], "succeeded", "{}", text(&done));
    assert_eq!(
        sim.submissions(),
        1,
        "submitted once, by the replica that took it"
    );

    // The image, saved by A under the shared root, is a resource on B.
    let uri = s["files"][0]["uri"].as_str().expect("uri").to_string();
    let read = b
        .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
        .await
        .expect("read on the other replica");
    let json = serde_json::to_value(&read.contents[0]).expect("json");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(json["blob"].as_str().expect("blob"))
        .expect("b64");
    assert_eq!(
        blob,
        std::fs::read(s["files"][0]["path"].as_str().expect("path")).expect("file")
    );

    // The same idempotency key through either replica names the same job.
    let keyed = gen_args(json!({"wait_seconds": 0, "idempotency_key": "same-on-both"}));
    let first = structured(&call(&a, "generate_image", keyed.clone()).await)["job_id"].clone();
    let second = structured(&call(&b, "generate_image", keyed).await)["job_id"].clone();
    assert_eq!(first, second, "one job per key across replicas");
}

#[tokio::test]
async fn a_cancel_through_one_replica_stops_the_job_running_on_the_other() {
    // Far longer than the test: only the cancel can end this job in time.
    let Some(s) = setting(Duration::from_secs(600)).await else {
        return;
    };
    let (dir, a, b) = (&s.dir, &s.a, &s.b);

    let r = call(&a, "generate_image", gen_args(json!({"wait_seconds": 0}))).await;
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    until_submitted(&a, &id).await;
    let c = call(&b, "cancel_job", json!({"job_id": id})).await;
    assert!(!is_error(&c), "{}", text(&c));

    // A runs the job: it hears of the cancel from the store's notification, not at its
    // next stored update (which this job would reach only when the backend finishes).
    let on_a = call(&a, "get_job", json!({"job_id": id, "wait_seconds": 30})).await;
    assert_eq!(structured(&on_a)["status"], "cancelled", "{}", text(&on_a));
    assert!(
        std::fs::read_dir(dir.path().join("out")).map_or(true, |mut d| d.next().is_none()),
        "nothing saved"
    );
}

/// A replica whose lease lapsed (the store was away longer than a lease) and whose job
/// another took over stops running it, writing nothing: one replica tracks a job at a time.
/// Found at its next renewal (a short lease here)...
#[tokio::test]
async fn a_replica_whose_job_was_taken_over_stops_it_without_writing() {
    taken_over_while_running("1").await;
}

/// ...or, before that renewal, by its first write after the takeover: the store refuses a
/// write from a process that no longer holds the job (the file's name is recorded before the
/// file takes it, so the refused record keeps the file from being saved).
#[tokio::test]
async fn a_replica_that_lost_its_job_cannot_write_it_before_its_next_renewal() {
    taken_over_while_running("300").await;
}

async fn taken_over_while_running(lease_secs: &str) {
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_secs(5),
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", lease_secs)]);
    let h = start_with_env(dir.path(), &env).await;
    let r = call(&h, "generate_image", gen_args(json!({"wait_seconds": 0}))).await;
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    until_submitted(&h, &id).await;

    // Another process takes the job over, as it would once this one's lease lapsed.
    let store =
        easel::jobs::SqliteStore::open(&out.with_file_name("data").join("jobs.db")).expect("store");
    use easel::jobs::JobStore;
    let holders = store.lease_holders().expect("holders");
    let now = easel::clock::now_ms();
    let taken = store
        .claim_unfinished("the-other-replica", now, now + 600_000, &holders)
        .expect("claim");
    assert_eq!(taken.len(), 1);

    // Had this easel kept running the job, the backend's answer (after 5 s) would be saved
    // and the job stored as succeeded: waiting past that (the job stops being live here
    // once lost, and is then read from the store) finds it still running, under the other.
    let started = std::time::Instant::now();
    let mut later = call(&h, "get_job", json!({"job_id": id, "wait_seconds": 10})).await;
    while started.elapsed() < Duration::from_secs(8) {
        assert_eq!(structured(&later)["status"], "running", "{}", text(&later));
        later = call(&h, "get_job", json!({"job_id": id, "wait_seconds": 10})).await;
    }
    assert_eq!(structured(&later)["status"], "running", "{}", text(&later));
    assert!(
        files_under(&out).is_empty(),
        "nothing saved by the replica that lost the job"
    );
    let stored = store.get(&id).expect("get").expect("job");
    assert_eq!(stored.status, easel::jobs::JobStatus::Running);
    assert_eq!(
        store.lease_holders().expect("holders"),
        ["the-other-replica"]
    );
}

async fn start_with_env(
    dir: &std::path::Path,
    env: &std::collections::HashMap<String, String>,
) -> rmcp::service::RunningService<rmcp::RoleClient, Recorder> {
    easel::logging::install_tls_provider();
    serve(&config(dir, env)).await.0
}

/// A replica that dies while writing leaves a temporary file in the shared output root; the
/// replica that finds it dead (and takes its jobs) removes it, without waiting for a restart.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_live_replica_removes_the_temporary_files_of_one_found_dead() {
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", "1")]);
    let h = start_with_env(dir.path(), &env).await;
    // Started, so its start-up sweep is behind it.
    let r = call(&h, "generate_image", gen_args(json!({"wait_seconds": 30}))).await;
    assert_eq!(structured(&r)["status"], "succeeded", "{}", text(&r));

    let (pid, start) = crate::jobs_durable::a_dead_process();
    let me = easel::process::ProcessId::current();
    let temp = out.join(format!(
        ".cat.0123456789abcdef0123456789abcdef.{}-{pid}-{start}.part",
        me.numbering()
    ));
    std::fs::write(&temp, b"half an image").expect("left by the dead replica");
    let mut job: easel::jobs::Job = serde_json::from_value(json!({
        "id": "0123456789abcdef0123456789abcdef", "backend": "modelscope",
        "request": {"prompt": "p", "model": "Qwen/Qwen-Image", "size": {"width": 64, "height": 64}, "seed": 5, "count": 1},
        "output": {"dir": null, "stem": "cat", "format": "original"},
        "status": "queued", "progress": {"fraction": 0.0, "message": "queued"},
        "ticket": null, "images": [], "failures": [], "error": null, "idempotency_key": null,
        "created_at_ms": 1, "updated_at_ms": 1, "finished_at_ms": null
    }))
    .expect("job");
    job.created_at_ms = easel::clock::now_ms();
    let store =
        easel::jobs::SqliteStore::open(&out.with_file_name("data").join("jobs.db")).expect("store");
    use easel::jobs::JobStore;
    let holder = easel::process::ProcessId {
        pid,
        start,
        ..me.clone()
    };
    let lease = easel::clock::now_ms() + 600_000;
    store
        .insert(&job, &format!("easel-{pid}-x {}", holder.to_text()), lease)
        .expect("insert");

    let done = call(&h, "get_job", json!({"job_id": job.id, "wait_seconds": 30})).await;
    assert_eq!(structured(&done)["status"], "succeeded", "{}", text(&done));
    // The sweep runs beside the takeover; wait (bounded) for it to have removed the file.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while temp.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dead replica's temporary file is still there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
