//! Durability: jobs survive a killed easel, are never submitted or saved twice, and a bad
//! job store stops start-up with a clear message. Drives the real binary over stdio.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use serde_json::json;
use tokio::process::Command;

#[cfg(unix)]
#[tokio::test]
async fn a_job_survives_sigkill_and_completes_once_after_restart() {
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

    let first = serve_binary(dir.path(), &env, ()).await;
    let r = call(
        &first.client,
        "generate_image",
        gen_args(json!({"wait_seconds": 0, "count": 2})),
    )
    .await;
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    // Kill only once the tickets are stored.
    until_submitted(&first.client, &id).await;
    kill9(first.pid);
    assert_eq!(sim.submissions(), 2);
    assert!(
        files_under(&out).is_empty(),
        "nothing saved before the kill"
    );

    let second = serve_binary(dir.path(), &env, ()).await;
    let done = call(
        &second.client,
        "get_job",
        json!({"job_id": id, "wait_seconds": 60}),
    )
    .await;
    let s = structured(&done);
    assert_eq!(s["status"], "succeeded", "{}", text(&done));
    assert_eq!(s["files"].as_array().expect("files").len(), 2);
    assert_eq!(sim.submissions(), 2, "the restart must not submit again");
    let files = files_under(&out);
    assert_eq!(files.len(), 2, "each file exactly once: {files:?}");
    let downloads = sim
        .requests()
        .iter()
        .filter(|q| q.path.starts_with("/img/"))
        .count();
    assert_eq!(downloads, 2);
    second.client.cancel().await.expect("close");
}

/// Tasks accepted at the service directly, as if a (now dead) easel had submitted them.
async fn sim_tasks(sim: &ModelScopeSim, seeds: &[u64]) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut task_ids = Vec::new();
    for seed in seeds {
        let v: serde_json::Value = http
            .post(format!("{}v1/images/generations", sim.base_url()))
            .bearer_auth("ms-test-token")
            .header("X-ModelScope-Async-Mode", "true")
            .json(
                &json!({"model": "Qwen/Qwen-Image", "prompt": "p", "size": "64x64", "seed": seed}),
            )
            .send()
            .await
            .expect("submit")
            .json()
            .await
            .expect("json");
        task_ids.push(v["task_id"].as_str().expect("id").to_string());
    }
    task_ids
}

/// Waits (bounded) until the job ends.
async fn until_finished(jobs: &easel::jobs::Jobs, id: &str) -> easel::jobs::Job {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "not resumed");
        if let Some(j) = jobs
            .wait(id, Duration::from_millis(200), |_| {})
            .await
            .expect("wait")
            && j.status.is_terminal()
        {
            return j;
        }
    }
}

/// A process that ran on this machine and has ended: its PID and start time.
#[cfg(target_os = "linux")]
pub(crate) fn a_dead_process() -> (u32, u64) {
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let pid = child.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let start = stat[stat.rfind(')').expect(")") + 1..]
        .split_whitespace()
        .nth(19)
        .expect("start")
        .parse()
        .expect("number");
    child.wait().expect("reaped");
    (pid, start)
}

/// easel was killed in the middle of saving: image 0's file had taken its name but was not
/// yet recorded as saved, image 1 had its name recorded but no file yet, and a temporary
/// file was left. The restart adopts image 0 without downloading it, saves image 1 once,
/// and removes the temporary file: one file per image, nothing else.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_save_interrupted_by_a_kill_is_finished_once_after_restart() {
    easel::logging::install_tls_provider();
    let sim = ModelScopeSim::start(ModelScopeConfig {
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", "300")]);
    let config = config(dir.path(), &env);
    let task_ids = sim_tasks(&sim, &[5, 6]).await;

    let root = easel::outputs::OutputRoot::new(&out).expect("root");
    let first = easel_sim::picture::png(64, 64, "first");
    let first_path = root.path().join("cat-1.png");
    std::fs::write(&first_path, &first).expect("published before the kill");
    let (pid, start) = a_dead_process();
    let me = easel::process::ProcessId::current();
    let temp = root.path().join(format!(
        ".cat-2.0123456789abcdef0123456789abcdef.{}-{pid}-{start}.part",
        me.numbering()
    ));
    std::fs::write(&temp, b"half an image").expect("left by the kill");
    let pending = |index: u32, path: &Path, bytes: &[u8]| {
        json!({
            "image": {"index": index, "path": path, "mime": "image/png", "width": 64, "height": 64,
                      "bytes": bytes.len(), "seed": 5 + index},
            "sha256": easel::outputs::sha256_hex(bytes)
        })
    };
    let job = json!({
        "id": "0123456789abcdef0123456789abcdee",
        "backend": "modelscope",
        "request": {"prompt": "p", "model": "Qwen/Qwen-Image", "size": {"width": 64, "height": 64}, "seed": 5, "count": 2},
        "output": {"dir": null, "stem": "cat", "format": "original"},
        "status": "running",
        "progress": {"fraction": 0.9, "message": "saving"},
        "ticket": {"submitted_at_ms": easel::clock::now_ms(), "tasks": [
            {"index": 0, "seed": 5, "task_id": task_ids[0]},
            {"index": 1, "seed": 6, "task_id": task_ids[1]}
        ]},
        "images": [],
        "pending_files": [
            pending(0, &first_path, &first),
            pending(1, &root.path().join("cat-2.png"), b"never written")
        ],
        "failures": [], "error": null, "idempotency_key": null,
        "created_at_ms": 1, "updated_at_ms": 1, "finished_at_ms": null
    });
    let job: easel::jobs::Job = serde_json::from_value(job).expect("job");
    let store = easel::jobs::SqliteStore::open(&config.data_dir.join(easel::app::JOB_STORE_FILE))
        .expect("store");
    use easel::jobs::JobStore;
    // Held by the killed process, whose lease would run for minutes yet.
    let holder = easel::process::ProcessId {
        pid,
        start,
        ..me.clone()
    };
    let lease = easel::clock::now_ms() + 300_000;
    store
        .insert(&job, &format!("easel-{pid}-x {}", holder.to_text()), lease)
        .expect("insert");
    drop(store);

    let jobs = easel::app::build(&config, easel::app::Storage::Durable)
        .expect("app")
        .jobs;
    jobs.start_background(true);
    let done = until_finished(&jobs, &job.id).await;
    assert_eq!(
        done.status,
        easel::jobs::JobStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert!(done.pending_files.is_empty());
    let paths: Vec<_> = done.images.iter().map(|i| i.path.clone()).collect();
    assert_eq!(paths[0], first_path, "image 0 adopted in place");
    assert_ne!(paths[1], paths[0]);
    assert!(easel::outputs::inspect(&std::fs::read(&paths[1]).expect("image 1"), None).is_ok());
    let downloads = sim
        .requests()
        .into_iter()
        .filter(|q| q.path.starts_with("/img/"))
        .count();
    assert_eq!(downloads, 1, "only image 1 is downloaded");
    // The clean-up runs beside the resume; the job's end does not order them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while temp.exists() {
        assert!(Instant::now() < deadline, "temporary file left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut files = files_under(&out);
    files.sort();
    assert_eq!(files, paths, "one file per image, nothing else");
}

#[tokio::test]
async fn resuming_skips_images_already_saved() {
    easel::logging::install_tls_provider();
    let sim = ModelScopeSim::start(ModelScopeConfig {
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", "1")]);
    let config = config(dir.path(), &env);

    // Two tasks accepted at the service; the first image was saved before easel stopped.
    let task_ids = sim_tasks(&sim, &[5, 6]).await;
    std::fs::create_dir_all(&out).expect("out");
    let saved_path = out.canonicalize().expect("canon").join("first.png");
    std::fs::write(&saved_path, easel_sim::picture::png(64, 64, "first")).expect("write");
    let job = json!({
        "id": "0123456789abcdef0123456789abcdef",
        "backend": "modelscope",
        "request": {"prompt": "p", "model": "Qwen/Qwen-Image", "size": {"width": 64, "height": 64}, "seed": 5, "count": 2},
        "output": {"dir": null, "stem": null, "format": "original"},
        "status": "running",
        "progress": {"fraction": 0.5, "message": "tracking"},
        "ticket": {"submitted_at_ms": easel::clock::now_ms(), "tasks": [
            {"index": 0, "seed": 5, "task_id": task_ids[0]},
            {"index": 1, "seed": 6, "task_id": task_ids[1]}
        ]},
        "images": [{"index": 0, "path": saved_path, "mime": "image/png", "width": 64, "height": 64, "bytes": 1, "seed": 5}],
        "failures": [], "error": null, "idempotency_key": null,
        "created_at_ms": 1, "updated_at_ms": 1, "finished_at_ms": null
    });
    let job: easel::jobs::Job = serde_json::from_value(job).expect("job");
    let store = easel::jobs::SqliteStore::open(&config.data_dir.join(easel::app::JOB_STORE_FILE))
        .expect("store");
    use easel::jobs::JobStore;
    store.insert(&job, "a-dead-process", 0).expect("insert");
    drop(store);

    let jobs = easel::app::build(&config, easel::app::Storage::Durable)
        .expect("app")
        .jobs;
    jobs.start_background(true);
    let mut done = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while done.is_none() {
        assert!(Instant::now() < deadline, "not resumed");
        if let Some(j) = jobs
            .wait(&job.id, Duration::from_millis(200), |_| {})
            .await
            .expect("wait")
            && j.status.is_terminal()
        {
            done = Some(j);
        }
    }
    let done = done.expect("done");
    assert_eq!(
        done.status,
        easel::jobs::JobStatus::Succeeded,
        "{:?}",
        done.error
    );
    assert_eq!(done.images.len(), 2);
    let downloads: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.path.starts_with("/img/"))
        .collect();
    assert_eq!(downloads.len(), 1, "image 0 must not be downloaded again");
    assert_eq!(files_under(&out).len(), 2);
}

#[tokio::test]
async fn two_hundred_concurrent_jobs_finish_with_distinct_files() {
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_secs(1),
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(
        &sim,
        &out,
        &[
            ("EASEL_JOBS_MAX_RUNNING_PER_BACKEND", "256"),
            ("EASEL_MODELSCOPE_POLL_MAX_MS", "200"),
        ],
    );
    let served = serve_binary(dir.path(), &env, ()).await;
    let started = Instant::now();
    let calls = (0..200).map(|i| {
        let client = &served.client;
        async move {
            call(
                client,
                "generate_image",
                gen_args(json!({"seed": i, "preview": "none", "size": "128x128"})),
            )
            .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let wall = started.elapsed();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", served.pid)).unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    eprintln!(
        "200 concurrent jobs: wall {:.2} s, easel peak RSS {peak}",
        wall.as_secs_f64()
    );
    let mut paths = std::collections::HashSet::new();
    for r in &results {
        assert!(!is_error(r), "{}", text(r));
        assert_eq!(structured(r)["status"], "succeeded");
        paths.insert(
            structured(r)["files"][0]["path"]
                .as_str()
                .expect("p")
                .to_string(),
        );
    }
    assert_eq!(paths.len(), 200);
    assert_eq!(files_under(&out).len(), 200);
    assert_eq!(sim.submissions(), 200);
    served.client.cancel().await.expect("close");
}

async fn start_with_store(prepare: impl FnOnce(&Path)) -> (bool, String) {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    prepare(&data.join("jobs.db"));
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .env("EASEL_DATA_DIR", &data)
        .env("EASEL_OUTPUT_DIR", dir.path().join("out"))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_corrupted_job_store_is_a_clear_start_up_error() {
    let (ok, stderr) =
        start_with_store(|p| std::fs::write(p, vec![0x42u8; 8192]).expect("garbage")).await;
    assert!(!ok);
    assert!(
        stderr.contains("jobs.db")
            && stderr.contains("not a readable SQLite database")
            && stderr.contains("Move it aside"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn a_locked_job_store_is_a_clear_start_up_error() {
    let holder = std::sync::Arc::new(std::sync::Mutex::new(None));
    let h = holder.clone();
    let (ok, stderr) = start_with_store(move |p| {
        let conn = rusqlite::Connection::open(p).expect("open");
        conn.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE held (x);")
            .expect("lock");
        *h.lock().expect("m") = Some(conn);
    })
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("jobs.db") && stderr.contains("locked"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(holder);
}

#[tokio::test]
async fn the_jobs_command_lists_shows_cancels_and_prunes() {
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[]);
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let easel = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&cfg)
            .args(args)
            .env_clear()
            .envs(&env);
        c
    };
    let generated = easel(&["generate", "a kite", "--size", "64x64"])
        .output()
        .await
        .expect("gen");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let list = easel(&["jobs", "list"]).output().await.expect("list");
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    let id = listing
        .split_whitespace()
        .next()
        .expect("a job id")
        .to_string();
    assert!(listing.contains("succeeded"), "{listing}");
    let show = easel(&["jobs", "show", &id]).output().await.expect("show");
    assert!(String::from_utf8_lossy(&show.stdout).contains(&id));
    let wait = easel(&["jobs", "wait", &id]).output().await.expect("wait");
    assert!(wait.status.success());
    assert!(Path::new(String::from_utf8_lossy(&wait.stdout).trim()).exists());
    let cancel = easel(&["jobs", "cancel", &id])
        .output()
        .await
        .expect("cancel");
    assert!(String::from_utf8_lossy(&cancel.stdout).contains("already finished"));
    // The gallery's thumbnails (served by job id) of the pruned job and of a job the store no
    // longer has go too; other files in that folder are not touched.
    let thumbs = dir.path().join("data/thumbnails").join(&id[..2]);
    std::fs::create_dir_all(&thumbs).expect("thumbs");
    std::fs::write(thumbs.join(format!("{id}-0.jpg")), "jpeg").expect("thumb");
    std::fs::write(thumbs.join("ffff-0.jpg"), "jpeg").expect("other thumb");
    std::fs::write(thumbs.join("notes.txt"), "mine").expect("other file");
    let prune = easel(&["jobs", "prune", "--older-than", "0s"])
        .output()
        .await
        .expect("prune");
    let said = String::from_utf8_lossy(&prune.stdout);
    assert!(
        said.contains("removed 1 finished job(s)") && said.contains("and 2 gallery thumbnail(s)"),
        "{said}"
    );
    assert!(!thumbs.join(format!("{id}-0.jpg")).exists());
    assert!(thumbs.join("notes.txt").exists());
    let after = easel(&["jobs", "list"]).output().await.expect("list");
    assert!(String::from_utf8_lossy(&after.stdout).trim().is_empty());
    assert_eq!(files_under(&out).len(), 1, "pruning never deletes files");
}

/// Two easels on one data dir (one per MCP client) submitting keyed jobs at the same moment:
/// every call is answered with a job, and each key names exactly one job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_easels_on_one_data_dir_accept_every_keyed_submission() {
    easel::logging::install_tls_provider();
    let sim = ModelScopeSim::start(ModelScopeConfig {
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[("EASEL_JOBS_MAX_RUNNING_PER_BACKEND", "64")]);
    let first = serve_binary(dir.path(), &env, ()).await;
    let second = serve_binary(dir.path(), &env, ()).await;
    let (a, b) = (&first.client, &second.client);
    // 40 keys, each sent once to each easel, all at once.
    let calls = (0..80).map(|i| {
        let client = if i % 2 == 0 { a } else { b };
        async move {
            let args = gen_args(json!({
                "seed": i / 2, "size": "64x64", "preview": "none", "wait_seconds": 0,
                "idempotency_key": format!("key-{}", i / 2)
            }));
            (i / 2, call(client, "generate_image", args).await)
        }
    });
    let results = futures::future::join_all(calls).await;
    let mut by_key: HashMap<u32, std::collections::HashSet<String>> = HashMap::new();
    for (key, r) in &results {
        assert!(!is_error(r), "refused: {}", text(r));
        let id = structured(r)["job_id"].as_str().expect("id").to_string();
        by_key.entry(*key).or_default().insert(id);
    }
    assert_eq!(by_key.len(), 40);
    assert!(
        by_key.values().all(|ids| ids.len() == 1),
        "a key named two jobs: {by_key:?}"
    );
    for ids in by_key.values() {
        let id = ids.iter().next().expect("id");
        let done = call(
            a,
            "get_job",
            json!({"job_id": id, "wait_seconds": 60, "preview": "none"}),
        )
        .await;
        assert_eq!(structured(&done)["status"], "succeeded", "{}", text(&done));
    }
    assert_eq!(sim.submissions(), 40, "one paid generation per key");
}

/// A restarted easel takes over the jobs of the easel it replaces on this machine at once
/// when that process is provably dead, instead of waiting out its lease.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_restart_resumes_the_jobs_of_a_killed_easel_without_waiting_its_lease() {
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_millis(500),
        in_progress_polls: 0,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    // A lease far longer than this test's own waits: waiting it out would fail the test.
    let env = test_env(&sim, &out, &[("EASEL_JOBS_LEASE_SECS", "300")]);
    let first = serve_binary(dir.path(), &env, ()).await;
    let r = call(
        &first.client,
        "generate_image",
        gen_args(json!({"wait_seconds": 0})),
    )
    .await;
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    until_submitted(&first.client, &id).await;
    kill9(first.pid);

    let second = serve_binary(dir.path(), &env, ()).await;
    let done = call(
        &second.client,
        "get_job",
        json!({"job_id": id, "wait_seconds": 30, "preview": "none"}),
    )
    .await;
    let s = structured(&done);
    assert_eq!(s["status"], "succeeded", "{}", text(&done));
    assert_eq!(sim.submissions(), 1, "resumed, not submitted again");
    assert_eq!(files_under(&out).len(), 1);
    second.client.cancel().await.expect("close");
}

/// A paid image that could not be saved (here a file stands where its folder should be; a
/// full disk fails the same way) is fetched again and saved once the cause is gone, without
/// a second generation.
#[tokio::test]
async fn an_image_that_could_not_be_saved_is_saved_on_retry_without_generating_again() {
    let h = start(
        ModelScopeConfig {
            in_progress_polls: 0,
            ..Default::default()
        },
        &[],
    )
    .await;
    let blocker = h.out().join("kites");
    std::fs::write(&blocker, b"not a folder").expect("blocker");
    let key = json!({"output_dir": "kites/2026", "idempotency_key": "kite-1", "preview": "none"});
    let r = h.call("generate_image", gen_args(key.clone())).await;
    let s = structured(&r);
    assert_eq!(s["status"], "failed", "{}", text(&r));
    assert!(text(&r).contains("retry_save"), "{}", text(&r));
    let id = s["job_id"].as_str().expect("id").to_string();
    // The same key still names the failed job: no second payment.
    let again = h.call("generate_image", gen_args(key)).await;
    assert_eq!(structured(&again)["job_id"], id.as_str());
    assert_eq!(structured(&again)["status"], "failed");
    assert_eq!(h.sim.submissions(), 1);

    std::fs::remove_file(&blocker).expect("cause fixed");
    let retried = h
        .call(
            "get_job",
            json!({"job_id": id, "retry_save": true, "wait_seconds": 30, "preview": "none"}),
        )
        .await;
    let s = structured(&retried);
    assert_eq!(s["status"], "succeeded", "{}", text(&retried));
    let files = s["files"].as_array().expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(h.sim.submissions(), 1, "fetched again, not generated again");
    assert_eq!(h.files().len(), 1, "{:?}", h.files());
    assert!(h.files()[0].starts_with(h.out().join("kites/2026")));

    // Nothing left to retry: said so, and nothing runs.
    let once_more = h
        .call(
            "get_job",
            json!({"job_id": id, "retry_save": true, "wait_seconds": 0}),
        )
        .await;
    assert!(
        text(&once_more).contains("retry_save: nothing to do"),
        "{}",
        text(&once_more)
    );
    assert_eq!(h.files().len(), 1);
}
