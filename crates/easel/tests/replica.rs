//! Replicas over one PostgreSQL job store: `easel serve --http --stateless` processes (the
//! binary) sharing a database and an output root, against one ComfyUI simulator, driven by
//! rmcp's HTTP client. One replica killed with SIGKILL mid-run (while ComfyUI has its prompts
//! but it has not heard back, or while its jobs run): the other takes its jobs over, every job
//! succeeds, nothing is submitted or saved twice. PostgreSQL stopped mid-run: calls
//! fail naming the store (never its password), /healthz answers 503, and easel recovers by
//! itself once the server is back, losing and repeating nothing.
//!
//! The backend is ComfyUI because its prompt id is chosen by easel and stored before the
//! prompt is posted (`Backend::prepare`): a replica killed between posting and storing the
//! answer leaves a ticket the survivor finds the prompt by, instead of a job that must fail
//! or be submitted again.
//!
//! Skipped (with a note) without `EASEL_TEST_DATABASE_URL`; CI sets it (`scripts/pg-cluster`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use easel_sim::{ComfyConfig, ComfySim};
use futures::future::join_all;
use rmcp::model::{CallToolRequestParams, ClientRequest, Request, ServerResult};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

use crate::common::pg;
use crate::common::{Recorder, call, files_under, is_error, structured, text};
use crate::http::support::{Spawned, eventually, http, rmcp_client};

type Client = RunningService<RoleClient, Recorder>;

/// Upper bound of every wait on an observable condition; never a pass/fail timing.
const PATIENCE: u64 = 120;

/// The environment of a replica: its own config and data dir under `home`, the shared
/// output root and workflows, fast polling, short leases: a dead replica's jobs are looked
/// for every second (a third of a lease), while a live one, even on a busy machine, renews
/// its leases long before they lapse.
fn replica_env(
    shared: &Path,
    home: &Path,
    sim: &ComfySim,
    database_url: &str,
) -> HashMap<String, String> {
    std::fs::create_dir_all(home).expect("replica dir");
    [
        ("EASEL_OUTPUT_DIR", shared.join("out").display().to_string()),
        (
            "EASEL_WORKFLOWS_DIR",
            shared.join("workflows").display().to_string(),
        ),
        ("EASEL_DATA_DIR", home.join("data").display().to_string()),
        ("EASEL_DATABASE_URL", database_url.to_string()),
        ("COMFYUI_URL", sim.base_url()),
        ("EASEL_DEFAULT_BACKEND", "comfyui".to_string()),
        ("EASEL_COMFYUI_POLL_MS", "50".to_string()),
        ("EASEL_JOBS_LEASE_SECS", "3".to_string()),
        ("EASEL_CONFIRM", "false".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// One replica: `easel serve --http 127.0.0.1:0 --stateless`, and an MCP client on it.
struct Replica {
    process: Spawned,
    client: Client,
}

impl Replica {
    async fn start(shared: &Path, name: &str, sim: &ComfySim, database_url: &str) -> Replica {
        let home = shared.join(name);
        let env = replica_env(shared, &home, sim, database_url);
        let process = Spawned::start(&home, &env, &["--http", "127.0.0.1:0", "--stateless"]).await;
        let client = rmcp_client(&format!("{}/mcp", process.base), None).await;
        Replica { process, client }
    }

    async fn health(&self) -> (u16, Value) {
        let resp = http()
            .get(format!("{}/healthz", self.process.base))
            .send()
            .await
            .expect("GET /healthz");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("healthz JSON"))
    }
}

/// A quick one-image ComfyUI job; distinct prompts and seeds, so that the simulator's cache
/// never answers one job with another's image and every file has its own name.
fn job_args(i: usize) -> Value {
    json!({"prompt": format!("replica test lighthouse number {i}"), "size": "64x64",
           "seed": 1000 + i, "steps": 4, "wait_seconds": 0})
}

async fn submit(client: &Client, i: usize) -> String {
    let r = call(client, "generate_image", job_args(i)).await;
    assert!(!is_error(&r), "job {i}: {}", text(&r));
    structured(&r)["job_id"]
        .as_str()
        .expect("a job id")
        .to_string()
}

/// The job as `client`'s replica reads it, once finished (waiting up to a minute per call).
async fn finished(client: &Client, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(PATIENCE);
    loop {
        let r = call(
            client,
            "get_job",
            json!({"job_id": id, "wait_seconds": 60, "preview": "none"}),
        )
        .await;
        assert!(!is_error(&r), "get_job {id}: {}", text(&r));
        let job = structured(&r);
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} never finished: {job}");
    }
}

/// A tool call that may fail either way MCP allows (an error result or a JSON-RPC error):
/// whether it failed, and everything it said.
async fn attempt(client: &Client, tool: &str, args: Value) -> (bool, String) {
    let mut params = CallToolRequestParams::new(tool.to_string());
    params.arguments = args.as_object().cloned();
    match client
        .send_request(ClientRequest::CallToolRequest(Request::new(params)))
        .await
    {
        Ok(ServerResult::CallToolResult(r)) => {
            let data = r.structured_content.as_ref().map(Value::to_string);
            (
                is_error(&r),
                format!("{} {}", text(&r), data.unwrap_or_default()),
            )
        }
        Ok(other) => panic!("unexpected answer {other:?}"),
        Err(e) => (true, e.to_string()),
    }
}

/// The prompt ids the simulator accepted, each once.
fn distinct_prompts(sim: &ComfySim) -> usize {
    sim.prompts()
        .iter()
        .filter_map(|p| p["prompt_id"].as_str().map(str::to_string))
        .collect::<HashSet<_>>()
        .len()
}

/// A temporary file of `writer` under `out`, named as easel names the file an image is
/// written to before it takes its real name (outputs/temp.rs): as if `writer` were saving.
fn interrupted_write(out: &Path, writer: &Spawned) -> PathBuf {
    let pid = writer.child.id().expect("a running replica");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name: state is the first, the start time the 20th.
    let after_name = stat.rsplit_once(')').expect("a command name").1;
    let start = after_name.split_whitespace().nth(19).expect("a start time");
    let numbering = easel::process::ProcessId::current().numbering();
    let uuid = uuid::Uuid::new_v4().simple();
    let path = out.join(format!(".lighthouse.{uuid}.{numbering}-{pid}-{start}.part"));
    std::fs::create_dir_all(out).expect("output root");
    std::fs::write(&path, b"half an image").expect("temporary file");
    path
}

/// easel's temporary files under `out` (outputs/temp.rs: hidden, ending in `.part`).
fn temporary_files(out: &Path) -> Vec<PathBuf> {
    files_under(out)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect()
}

/// Checks the output root: exactly the jobs' images, each once, no temporary file left.
fn check_outputs(out: &Path, jobs: &[Value]) {
    let temporary = temporary_files(out);
    assert!(temporary.is_empty(), "temporary files left: {temporary:?}");
    let files: Vec<PathBuf> = files_under(out);
    let saved: HashSet<PathBuf> = jobs
        .iter()
        .flat_map(|j| j["files"].as_array().cloned().unwrap_or_default())
        .map(|f| PathBuf::from(f["path"].as_str().expect("a saved path")))
        .collect();
    assert_eq!(saved.len(), jobs.len(), "one image per job");
    let on_disk: HashSet<PathBuf> = files.into_iter().collect();
    assert_eq!(
        on_disk, saved,
        "the output root holds exactly the jobs' images"
    );
}

/// When the kill comes: what the killed replica is doing then.
#[derive(Clone, Copy, Debug)]
enum KillWhile {
    /// Its prompts were accepted by ComfyUI (some ran) but it has not heard so: it stored
    /// each job's prompt id, not yet the answer (the simulator holds the answers).
    Submitting,
    /// Its jobs are queued, running or done at ComfyUI, their tickets stored; it may be
    /// downloading or saving images.
    Tracking,
}

#[cfg(unix)]
#[tokio::test]
async fn a_replica_killed_while_submitting_loses_and_repeats_nothing() {
    replica_killed(KillWhile::Submitting).await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_replica_killed_while_its_jobs_run_loses_and_repeats_nothing() {
    replica_killed(KillWhile::Tracking).await;
}

/// Two replicas, 50 jobs submitted alternately through both, one replica killed (SIGKILL)
/// `when`: every job succeeds (read through the survivor), ComfyUI got each prompt once, the
/// output root holds each image once and no temporary file.
async fn replica_killed(when: KillWhile) {
    const JOBS: usize = 50;
    let Some(db) = pg::database().await else {
        return;
    };
    let started = Instant::now();
    // Serial like ComfyUI: the jobs queue there, so the kill finds some done, one running,
    // the rest waiting.
    let sim = ComfySim::start(ComfyConfig {
        step_latency: Duration::from_millis(20),
        hold_answers: matches!(when, KillWhile::Submitting),
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let shared = dir.path();
    std::fs::create_dir_all(shared.join("workflows")).expect("workflows");
    let a = Replica::start(shared, "a", &sim, &db.url).await;
    let b = Replica::start(shared, "b", &sim, &db.url).await;

    // Alternating between the replicas, as a load balancer would.
    let ids: Vec<String> = join_all((0..JOBS).map(|i| {
        let client = if i % 2 == 0 { &a.client } else { &b.client };
        submit(client, i)
    }))
    .await;
    // Every prompt is at ComfyUI and some ran: the kill comes while the rest run or wait
    // there. (A replica killed before its prompt reached ComfyUI leaves a job that fails
    // asking to generate again: never submitted twice, but not a success to count here.)
    eventually(PATIENCE, "every job submitted and some run", || async {
        (sim.prompts().len() == JOBS && sim.executions() >= 10).then_some(())
    })
    .await;
    if matches!(when, KillWhile::Tracking) {
        // And the replica to be killed has saved some of its jobs' images: it may be saving
        // others when it dies.
        let mine: HashSet<&String> = ids.iter().step_by(2).collect();
        eventually(PATIENCE, "a job of the replica to kill saved", || async {
            let listed = call(&a.client, "list_jobs", json!({"status": "succeeded"})).await;
            structured(&listed)["jobs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|j| j["job_id"].as_str())
                .any(|id| mine.contains(&id.to_string()))
                .then_some(())
        })
        .await;
    }

    let Replica {
        process: mut victim,
        client: victim_client,
    } = a;
    // What a replica killed while saving an image leaves: its temporary file, named for it.
    let interrupted = interrupted_write(&shared.join("out"), &victim);
    victim.child.start_kill().expect("SIGKILL");
    // Reaped, so that the survivor sees a process that no longer exists.
    victim.child.wait().await.expect("reaped");
    drop(victim_client);
    let ran_at_kill = sim.executions();
    assert!(ran_at_kill < JOBS, "the kill came after every job had run");
    // The survivor hears of its own prompts now; the killed replica's answers are lost.
    sim.update(|c| c.hold_answers = false);
    // The killed replica's jobs, read through the survivor at once.
    let unfinished_at_kill = join_all(ids.iter().step_by(2).map(|id| {
        call(
            &b.client,
            "get_job",
            json!({"job_id": id, "wait_seconds": 0, "preview": "none"}),
        )
    }))
    .await
    .iter()
    .filter(|r| structured(r)["status"] != "succeeded")
    .count();
    match when {
        KillWhile::Submitting => assert_eq!(
            unfinished_at_kill,
            JOBS / 2,
            "none of the killed replica's jobs could finish"
        ),
        KillWhile::Tracking => assert!(
            unfinished_at_kill > 0,
            "every job of the killed replica had finished before the kill"
        ),
    }

    let mut jobs = Vec::new();
    for id in &ids {
        let job = finished(&b.client, id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["files"].as_array().map(Vec::len), Some(1), "{job}");
        jobs.push(job);
    }
    assert_eq!(sim.prompts().len(), JOBS, "each job submitted once");
    assert_eq!(distinct_prompts(&sim), JOBS);
    // The survivor removes the dead replica's temporary files when it takes its jobs over
    // (off its runtime, so this waits for it to have happened).
    eventually(
        PATIENCE,
        "the killed replica's temporary files removed",
        || async {
            (!interrupted.exists() && temporary_files(&shared.join("out")).is_empty()).then_some(())
        },
    )
    .await;
    check_outputs(&shared.join("out"), &jobs);
    eprintln!(
        "replica killed while {when:?}: {JOBS} jobs, {} submissions, {ran_at_kill} run at ComfyUI and {unfinished_at_kill} of the killed replica's {} unfinished at the kill, {:.1} s",
        sim.prompts().len(),
        JOBS / 2,
        started.elapsed().as_secs_f64()
    );
    b.client.cancel().await.expect("close");
}

#[cfg(unix)]
#[tokio::test]
async fn postgresql_stopped_mid_run_fails_calls_clearly_and_easel_recovers_by_itself() {
    const JOBS: usize = 6;
    let Some(db) = pg::database().await else {
        return;
    };
    let Some(cluster) = pg::cluster() else {
        return;
    };
    let started = Instant::now();
    // Held at ComfyUI until PostgreSQL is down: the jobs finish while easel cannot record it.
    let sim = ComfySim::start(ComfyConfig {
        paused: true,
        ..Default::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let shared = dir.path();
    std::fs::create_dir_all(shared.join("workflows")).expect("workflows");
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let easel = Replica::start(shared, "a", &sim, &db.url_with_password(&password)).await;
    let (status, health) = easel.health().await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["store"]["kind"], "postgres", "{health}");
    assert_eq!(health["store"]["reachable"], true, "{health}");

    let mut ids = Vec::new();
    for i in 0..JOBS {
        ids.push(submit(&easel.client, i).await);
    }
    eventually(PATIENCE, "every job submitted", || async {
        (sim.prompts().len() == JOBS).then_some(())
    })
    .await;
    // Tickets stored ("submitted" or later) before the store goes away.
    for id in &ids {
        eventually(PATIENCE, "the ticket stored", || async {
            let r = call(
                &easel.client,
                "get_job",
                json!({"job_id": id, "wait_seconds": 0, "preview": "none"}),
            )
            .await;
            (structured(&r)["progress"]["fraction"]
                .as_f64()
                .unwrap_or(0.0)
                >= 0.05)
                .then_some(())
        })
        .await;
    }

    let stopped = cluster.stop().await;
    sim.update(|c| c.paused = false);
    let down = Instant::now();
    let (failed, said) = attempt(&easel.client, "generate_image", job_args(JOBS)).await;
    assert!(failed, "a new job while the store is down: {said}");
    let lower = said.to_lowercase();
    assert!(
        lower.contains("postgres") && said.contains(db.name()),
        "the error names the store: {said}"
    );
    assert!(
        !said.contains(&password) && !lower.contains("password"),
        "the error leaks the password: {said}"
    );
    eprintln!("while PostgreSQL is down, generate_image says: {said}");
    // A job this replica does not run is read from the store: the outage, not "no such job".
    let (failed, said) = attempt(
        &easel.client,
        "get_job",
        json!({"job_id": "0123456789abcdef0123456789abcdef", "wait_seconds": 0}),
    )
    .await;
    assert!(failed, "get_job while the store is down: {said}");
    assert!(
        said.to_lowercase().contains("postgres") && said.contains(db.name()),
        "the error names the store: {said}"
    );
    assert!(
        !said.contains(&password) && !said.to_lowercase().contains("password"),
        "the error leaks the password: {said}"
    );
    eprintln!("while PostgreSQL is down, get_job says: {said}");
    let (code, health) = eventually(PATIENCE, "/healthz to say the store is down", || async {
        let (code, health) = easel.health().await;
        (code == 503).then_some((code, health))
    })
    .await;
    assert_eq!(code, 503);
    assert_eq!(health["store"]["reachable"], false, "{health}");
    let health_text = health.to_string();
    assert!(
        !health_text.contains(&password) && !health_text.to_lowercase().contains("password"),
        "{health_text}"
    );
    // The jobs end at ComfyUI while easel cannot record it.
    eventually(PATIENCE, "ComfyUI to run every job", || async {
        (sim.queue_len() == 0 && sim.executions() == JOBS).then_some(())
    })
    .await;
    stopped.start().await;
    let outage = down.elapsed();

    let recovered = Instant::now();
    eventually(PATIENCE, "/healthz to say the store is back", || async {
        let (code, health) = easel.health().await;
        (code == 200 && health["store"]["reachable"] == true).then_some(())
    })
    .await;
    let after = submit(&easel.client, JOBS + 1).await;
    ids.push(after);
    let mut jobs = Vec::new();
    for id in &ids {
        let job = finished(&easel.client, id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        jobs.push(job);
    }
    let recovery = recovered.elapsed();
    assert_eq!(sim.prompts().len(), JOBS + 1, "each job submitted once");
    assert_eq!(distinct_prompts(&sim), JOBS + 1);
    check_outputs(&shared.join("out"), &jobs);

    easel.client.cancel().await.expect("close");
    let (_, _, stderr) = easel.process.terminate(30).await;
    assert!(
        !stderr.contains(&password),
        "the log leaks the password: {stderr}"
    );
    eprintln!(
        "PostgreSQL outage: {} jobs, {} submissions, down {:.1} s, recovered in {:.1} s, {:.1} s in all",
        ids.len(),
        sim.prompts().len(),
        outage.as_secs_f64(),
        recovery.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
