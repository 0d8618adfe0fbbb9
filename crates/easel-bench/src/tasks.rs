//! The MCP tasks path (SEP-2663): `tasks/get` round trips through rmcp's client over stdio
//! to an easel whose job store holds 10,000 jobs. Two figures: a task that is still working
//! (the case a client polls over and over), and finished tasks read at random across the
//! store (the row is read, and the result get_job would give is built from it).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use easel::backend::{BackendError, ErrorKind};
use easel::jobs::{Job, JobProgress, JobStatus, JobStore, OutputSpec, SqliteStore};
use easel::request::{GenerateRequest, Size};
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, GetTaskParams,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::json;
use tokio::process::Command;

use crate::Opts;
use crate::report::{Figure, median, quantile, round};
use crate::server::Sandbox;

/// Jobs in the store, as the figure asks.
const STORE_JOBS: usize = 10_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A finished (failed) job as easel stores it: a realistic row without files to preview.
fn stored_job(i: usize, now_ms: u64) -> anyhow::Result<Job> {
    let at = now_ms - (STORE_JOBS - i) as u64 * 1000;
    Ok(Job {
        id: format!("{i:032x}"),
        backend: "modelscope".into(),
        request: GenerateRequest {
            prompt: format!("a lighthouse on a cliff at dawn, watercolor, variant {i}"),
            negative_prompt: None,
            model: Some("Qwen/Qwen-Image".into()),
            size: Size::parse("1024x1024")?,
            seed: i as u64,
            steps: None,
            guidance: None,
            loras: None,
            count: 1,
            workflow: None,
            params: serde_json::Map::new(),
            sources: Vec::new(),
            mask: None,
        },
        output: OutputSpec::default(),
        status: JobStatus::Failed,
        progress: JobProgress {
            fraction: 0.85,
            message: "failed: content rejected".into(),
            queue_position: None,
        },
        ticket: None,
        images: Vec::new(),
        pending_files: Vec::new(),
        failures: Vec::new(),
        error: Some(BackendError::new(ErrorKind::Failed, "content rejected")),
        warnings: Vec::new(),
        idempotency_key: None,
        created_at_ms: at,
        updated_at_ms: at + 900,
        finished_at_ms: Some(at + 900),
    })
}

/// Writes the jobs into the sandbox's store before easel starts (as an earlier easel would
/// have left them).
fn seed_store(sandbox: &Sandbox) -> anyhow::Result<Vec<String>> {
    let store = SqliteStore::open(&sandbox.dir.path().join("data").join("jobs.db"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = easel::clock::now_ms();
    let mut ids = Vec::with_capacity(STORE_JOBS);
    for i in 0..STORE_JOBS {
        let job = stored_job(i, now)?;
        store
            .insert(&job, "easel-bench-seed", 0)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(job.id);
    }
    Ok(ids)
}

async fn start(
    easel: &Path,
    sandbox: &Sandbox,
    env: &[(&str, String)],
) -> anyhow::Result<RunningService<RoleClient, ClientConfig>> {
    let mut cmd = Command::new(easel);
    cmd.arg("--config").arg(sandbox.config()).arg("serve");
    cmd.env_clear();
    cmd.envs(sandbox.env(env));
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", easel.display()))?;
    let mut info = ClientConfig::default();
    info.capabilities = ClientCapabilities::builder().enable_tasks().build();
    tokio::time::timeout(Duration::from_secs(30), info.serve(transport))
        .await
        .context("easel did not answer initialize in time")?
        .context("MCP initialize with easel")
}

/// `samples` tasks/get round trips of `ids[i % len]`, in milliseconds.
async fn round_trips(
    client: &RunningService<RoleClient, ClientConfig>,
    ids: &[String],
    samples: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        // A stride through the store, so that reads do not hit one page over and over.
        let id = &ids[(i * 7919) % ids.len()];
        let t0 = Instant::now();
        let got = client
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .with_context(|| format!("tasks/get {id}"))?;
        out.push(ms(t0.elapsed()));
        std::hint::black_box(got);
    }
    Ok(out)
}

fn figure(id: &str, label: &str, samples: &[f64], what: &str) -> [Figure; 2] {
    let detail = json!({"samples": samples.len(), "store_jobs": STORE_JOBS, "what": what,
        "p50": round(median(samples)), "p99": round(quantile(samples, 0.99)),
        "max": round(samples.iter().cloned().fold(0.0, f64::max))});
    [
        Figure::new(
            &format!("{id}.p50"),
            &format!("{label}, p50"),
            median(samples),
            "ms",
        )
        .detail(detail.clone()),
        Figure::new(
            &format!("{id}.p99"),
            &format!("{label}, p99"),
            quantile(samples, 0.99),
            "ms",
        )
        .at_most(5.0)
        .detail(detail),
    ]
}

pub async fn tasks(easel: &Path, opts: &Opts, emit: &mut impl FnMut(Figure)) -> anyhow::Result<()> {
    let samples = if opts.quick { 200 } else { 2000 };
    let sandbox = Sandbox::new()?;
    let seeded = seed_store(&sandbox)?;
    // A job that stays working for the whole run: the simulator holds it for ten minutes.
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_secs(600),
        in_progress_polls: 0,
        ..ModelScopeConfig::default()
    })
    .await?;
    let env = [
        ("MODELSCOPE_BASE_URL", sim.base_url()),
        ("MODELSCOPE_SDK_TOKEN", "ms-bench-token".to_owned()),
    ];
    let client = start(easel, &sandbox, &env).await?;
    let mut params = CallToolRequestParams::new("generate_image");
    params.arguments = json!({"prompt": "a lighthouse", "size": "1024x1024"})
        .as_object()
        .cloned();
    let working = match client.call_tool_once(params).await? {
        CallToolResponse::Task(t) => t.task.task_id,
        other => bail!("easel answered generate_image without a task: {other:?}"),
    };
    // Warm-up: SQLite pages, statement cache.
    round_trips(&client, &seeded, 50).await?;
    let polled = round_trips(&client, std::slice::from_ref(&working), samples).await?;
    for f in figure(
        "tasks.get_working",
        "tasks/get of a working task, store of 10,000 jobs",
        &polled,
        "a task still running in this easel: status and progress message (the polling case)",
    ) {
        emit(f);
    }
    let finished = round_trips(&client, &seeded, samples).await?;
    for f in figure(
        "tasks.get_finished",
        "tasks/get of finished tasks across 10,000 jobs",
        &finished,
        "random finished jobs read from the store, each with the result get_job gives (no files, so no thumbnail)",
    ) {
        emit(f);
    }
    let _ = client.cancel().await;
    Ok(())
}
