//! Two easels (replicas) on one PostgreSQL job store and one output root, in this process:
//! a job run by one is followed, read as a resource and cancelled through the other.
//! Needs a test cluster (`EASEL_TEST_DATABASE_URL`, see scripts/pg-cluster); without one
//! these tests note it and pass, except in CI, where a missing cluster fails them.

use std::time::Duration;

use base64::Engine;
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use serde_json::json;

use crate::common::*;

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
    // Held to the end: no other test stops the cluster meanwhile (common::pg).
    let Some(db) = crate::common::pg::database().await else {
        return;
    };
    let url = &db.url;
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_millis(800),
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let [a, b] = replicas(&sim, dir.path(), url).await;

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
    // Held to the end: no other test stops the cluster meanwhile (common::pg).
    let Some(db) = crate::common::pg::database().await else {
        return;
    };
    let url = &db.url;
    // Far longer than the test: only the cancel can end this job in time.
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let [a, b] = replicas(&sim, dir.path(), url).await;

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
