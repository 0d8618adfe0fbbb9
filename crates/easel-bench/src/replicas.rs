//! Several `easel serve --http --stateless` processes (the real binary) on one job store and
//! one output root, as behind a load balancer: the start-up shared by the replica figures,
//! and the burst figure: 256 concurrent jobs of 1 s through 2 replicas against 1.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::Opts;
use crate::http;
use crate::pgdb::FreshDb;
use crate::procfs;
use crate::report::{Figure, max, median, quantile, round};
use crate::server::Sandbox;

/// Where the replicas keep their jobs.
pub enum Store<'a> {
    /// One PostgreSQL database (`EASEL_DATABASE_URL`); each replica its own data dir.
    Postgres(&'a FreshDb),
    /// One data dir (and so one `jobs.db`) shared by every replica, as on one machine.
    SharedSqlite,
}

impl Store<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::SharedSqlite => "sqlite",
        }
    }
}

/// Running replicas; killed when dropped.
pub struct Replicas {
    pub addrs: Vec<String>,
    children: Vec<Child>,
}

impl Replicas {
    /// Starts `n` replicas in `sandbox` (its output root shared by all), talking to the
    /// ModelScope simulator with `extra` settings on top.
    pub async fn start(
        easel: &Path,
        sandbox: &Sandbox,
        n: usize,
        store: &Store<'_>,
        sim: &ModelScopeSim,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Replicas> {
        let mut addrs = Vec::with_capacity(n);
        let mut children = Vec::with_capacity(n);
        for i in 0..n {
            let mut env = vec![
                ("MODELSCOPE_BASE_URL", sim.base_url()),
                ("MODELSCOPE_SDK_TOKEN", "ms-bench-token".to_owned()),
            ];
            if let Store::Postgres(db) = store {
                let data = sandbox.dir.path().join(format!("data-{i}"));
                std::fs::create_dir_all(&data)?;
                env.push(("EASEL_DATA_DIR", data.display().to_string()));
                env.push(("EASEL_DATABASE_URL", db.url.clone()));
            }
            env.extend(extra.iter().cloned());
            let (child, addr) = http::start(easel, sandbox, &["--stateless"], &env)
                .await
                .with_context(|| format!("starting replica {}", i + 1))?;
            addrs.push(addr);
            children.push(child);
        }
        Ok(Replicas { addrs, children })
    }

    /// CPU time the replicas used so far, all together, in ms.
    pub fn cpu_ms(&self) -> f64 {
        let ticks: u64 = self
            .children
            .iter()
            .filter_map(|c| c.id().and_then(procfs::cpu_ticks))
            .sum();
        ticks as f64 * procfs::tick().as_secs_f64() * 1000.0
    }

    pub async fn stop(mut self) {
        for child in &mut self.children {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// A ModelScope simulator whose tasks take exactly `latency`, quotas out of the way.
pub async fn simulator(latency: Duration) -> anyhow::Result<ModelScopeSim> {
    ModelScopeSim::start(ModelScopeConfig {
        latency,
        in_progress_polls: 0,
        daily_limit_per_token: 1_000_000,
        daily_limit_per_model: 1_000_000,
        ..ModelScopeConfig::default()
    })
    .await
}

/// Jobs in the burst, as the figure asks.
const BURST: usize = 256;
/// The simulator's time per job.
const JOB_TIME: Duration = Duration::from_secs(1);
/// Small images, so that a job is its 1 s and not the simulator's PNG encoding on the two
/// cores the replicas share.
const BURST_SIZE: &str = "256x256";

fn own_cpu_ms() -> f64 {
    procfs::own_cpu_ticks().unwrap_or(0) as f64 * procfs::tick().as_secs_f64() * 1000.0
}

fn generate(seed: u64) -> Value {
    json!({"prompt": "a lighthouse on a cliff at dawn, watercolor", "size": BURST_SIZE,
           "seed": seed, "wait_seconds": 60})
}

/// 256 `generate_image` calls at once over HTTP, half to each replica, against all 256 to
/// one; PostgreSQL store (and, for context, one replica on SQLite).
pub async fn replicas(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let burst = if opts.quick { 32 } else { BURST };
    let url = opts.database_url.as_deref();
    let mut cases: Vec<(usize, &str)> = vec![(1, "sqlite")];
    if url.is_some() {
        cases.extend([(1, "postgres"), (2, "postgres")]);
    } else {
        eprintln!(
            "note: no --database-url (or {}): only the one-replica SQLite case runs",
            crate::pgdb::ENV
        );
    }
    // Rounds of every case in turn, so that a slow moment of the shared machine lands in
    // one round of each case rather than in all of one; medians reported.
    let rounds = if opts.quick { 1 } else { 3 };
    let mut runs: Vec<Vec<(f64, usize, Value)>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, (n, kind)) in cases.iter().enumerate() {
            runs[i].push(burst_once(easel, url, *n, kind, burst).await?);
        }
    }
    let mut medians: Vec<(usize, &str, f64)> = Vec::new();
    for ((n, kind), runs) in cases.iter().zip(&runs) {
        let totals: Vec<f64> = runs.iter().map(|(t, _, _)| *t).collect();
        let errors: usize = runs.iter().map(|(_, e, _)| *e).sum();
        let detail = json!({"rounds_s": totals.iter().map(|t| round(*t)).collect::<Vec<_>>(),
            "rounds": runs.iter().map(|(_, _, d)| d.clone()).collect::<Vec<_>>()});
        let label = match (n, *kind) {
            (1, "sqlite") => format!("{burst} jobs of 1 s, 1 replica on SQLite (context)"),
            _ => format!("{burst} jobs of 1 s through {n} replica(s) on PostgreSQL"),
        };
        emit(
            Figure::new(
                &format!("replicas.{kind}.n{n}.total"),
                &format!("{label}: total wall time, median of {rounds}"),
                median(&totals),
                "s",
            )
            .detail(detail),
        );
        emit(
            Figure::new(
                &format!("replicas.{kind}.n{n}.errors"),
                &format!("{label}: errors, all rounds"),
                errors as f64,
                "",
            )
            .at_most(0.0),
        );
        medians.push((*n, kind, median(&totals)));
    }
    if let [_, (1, "postgres", one), (2, "postgres", two)] = medians[..] {
        emit(
            Figure::new(
                "replicas.postgres.ratio",
                &format!("{burst} jobs of 1 s: 2 replicas ÷ 1 replica, wall time (medians)"),
                two / one,
                "",
            )
            .at_most(1.0)
            .detail(json!({"one_s": round(one), "two_s": round(two)})),
        );
    }
    Ok(())
}

/// One burst on `n` fresh replicas of a fresh store: (wall time in s, errors, detail).
async fn burst_once(
    easel: &Path,
    url: Option<&str>,
    n: usize,
    kind: &str,
    burst: usize,
) -> anyhow::Result<(f64, usize, Value)> {
    let db = match url {
        Some(url) if kind == "postgres" => Some(FreshDb::create(url)?),
        _ => None,
    };
    let store = match &db {
        Some(db) => Store::Postgres(db),
        None => Store::SharedSqlite,
    };
    let sim = simulator(JOB_TIME).await?;
    let sandbox = Sandbox::new()?;
    // Every call waits in its request: one replica holds all of them at once, so the
    // caps on in-flight requests and running jobs are raised above the burst.
    let extra = [
        ("EASEL_JOBS_MAX_RUNNING_PER_BACKEND", "512".to_owned()),
        ("EASEL_HTTP_MAX_SESSIONS", "512".to_owned()),
    ];
    let replicas = Replicas::start(easel, &sandbox, n, &store, &sim, &extra).await?;
    // Warm-up, one job per replica: connections to the simulator and the database.
    for (i, addr) in replicas.addrs.iter().enumerate() {
        let r = http::call_tool(addr, "generate_image", generate(i as u64)).await?;
        if r["status"] != "succeeded" {
            bail!("warm-up on replica {}: {r}", i + 1);
        }
    }
    let before = sim.submissions();
    let pg_cpu_now = || db.as_ref().map_or(0.0, FreshDb::backends_cpu_ms);
    let (easel_cpu0, own_cpu0, pg_cpu0) = (replicas.cpu_ms(), own_cpu_ms(), pg_cpu_now());
    let addrs = &replicas.addrs;
    let t0 = Instant::now();
    let results = join_all((0..burst).map(|i| async move {
        let addr = &addrs[i % addrs.len()];
        let c0 = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(90),
            http::call_tool(addr, "generate_image", generate(1000 + i as u64)),
        )
        .await;
        let outcome = match r {
            Ok(Ok(v)) if v["status"] == "succeeded" => Ok(()),
            Ok(Ok(v)) => Err(format!("status {}", v["status"])),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err("no answer within 90 s".to_owned()),
        };
        (c0.elapsed().as_secs_f64() * 1000.0, outcome)
    }))
    .await;
    let total = t0.elapsed();
    let (easel_cpu, own_cpu, pg_cpu) = (
        replicas.cpu_ms() - easel_cpu0,
        own_cpu_ms() - own_cpu0,
        pg_cpu_now() - pg_cpu0,
    );
    let submitted = sim.submissions() - before;
    let per_call: Vec<f64> = results.iter().map(|(d, _)| *d).collect();
    let errors: Vec<&String> = results
        .iter()
        .filter_map(|(_, o)| o.as_ref().err())
        .collect();
    let detail = json!({
        "replicas": n, "store": kind, "jobs": burst, "job_secs": JOB_TIME.as_secs(),
        "size": BURST_SIZE, "simulator_submissions": submitted,
        "easel_cpu_ms (all replicas)": round(easel_cpu),
        "bench_process_cpu_ms (simulator + client)": round(own_cpu),
        "postgres_backends_cpu_ms": round(pg_cpu),
        "cpu_ms_per_wall_s": round((easel_cpu + own_cpu + pg_cpu) / total.as_secs_f64()),
        "per_call_ms": {"p50": round(median(&per_call)), "p99": round(quantile(&per_call, 0.99)), "max": round(max(&per_call))},
        "errors": errors.len(), "first_error": errors.first(),
        "how": "all calls at once over sessionless HTTP (generate_image, wait_seconds 60), call i to replica i mod N, after one warm-up job per replica; wall time from the first call to the last answer",
    });
    if submitted != burst {
        bail!(
            "{n} replica(s) on {kind}: the simulator saw {submitted} submissions for {burst} jobs"
        );
    }
    replicas.stop().await;
    drop(db);
    Ok((total.as_secs_f64(), errors.len(), detail))
}
