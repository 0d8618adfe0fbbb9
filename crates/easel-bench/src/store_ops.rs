//! Job store operations per second, SQLite and PostgreSQL, through the `JobStore` trait as
//! easel calls it (one store object per process, shared by its tasks): create (`insert`),
//! update (`put_held`), get, lease (`renew`, and `claim_unfinished` taking over a dead replica's
//! jobs), on 1 and on 4 threads. Each operation runs for a fixed time on every thread; the
//! figure is operations done ÷ wall time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use easel::backend::Ticket;
use easel::jobs::{
    Job, JobProgress, JobStatus, JobStore, OutputSpec, PgStore, SqliteStore, StoreError,
};
use easel::request::{GenerateRequest, Size};
use serde_json::{Value, json};

use crate::Opts;
use crate::pgdb::FreshDb;
use crate::report::{Figure, median, quantile, round};

/// Thread counts measured: one caller, and a busy replica's few at once.
const THREADS: [usize; 2] = [1, 4];
/// Unfinished jobs each renewing owner holds: a replica running a few jobs.
const HELD: usize = 8;
/// A lease as long as easel's default, so nothing the benchmark writes expires under it.
const LEASE_MS: u64 = 3_600_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn err(e: StoreError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// A job as easel stores it while it runs: the request, a ticket, progress.
fn running_job(id: String, now_ms: u64) -> anyhow::Result<Job> {
    Ok(Job {
        id,
        backend: "modelscope".into(),
        request: GenerateRequest {
            prompt: "a lighthouse on a cliff at dawn, watercolor, soft light, seagulls".into(),
            negative_prompt: None,
            model: Some("Qwen/Qwen-Image".into()),
            size: Size::parse("1024x1024")?,
            seed: 42,
            steps: Some(30),
            guidance: None,
            loras: None,
            count: 1,
            workflow: None,
            params: serde_json::Map::new(),
            sources: Vec::new(),
            mask: None,
        },
        output: OutputSpec::default(),
        status: JobStatus::Running,
        progress: JobProgress {
            fraction: 0.25,
            message: "generating".into(),
            queue_position: None,
        },
        ticket: Some(Ticket(
            json!({"task_id": "3f2a9c1e-5b7d-4e8a-9c0b-1d2e3f4a5b6c"}),
        )),
        images: Vec::new(),
        pending_files: Vec::new(),
        failures: Vec::new(),
        error: None,
        warnings: Vec::new(),
        idempotency_key: None,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        finished_at_ms: None,
    })
}

/// How long each operation runs: `rounds` times `each`, the rounds of all operations
/// interleaved, so that a slow moment of the shared machine (another engineer's build, a
/// burst of disk writes) lands in one round of each rather than in all of one figure.
#[derive(Clone, Copy)]
struct Timing {
    rounds: usize,
    each: Duration,
}

/// The rounds of one operation on one number of threads.
struct Series {
    op: String,
    what: String,
    threads: usize,
    how: &'static str,
    runs: Vec<Run>,
}

/// Operations done and their latencies, all threads together.
struct Run {
    ops: usize,
    wall: Duration,
    latencies: Vec<f64>,
}

/// Runs `op(thread, n)` on `threads` threads until `time` has passed, each thread counting
/// its own `n` from 0.
fn run(
    threads: usize,
    time: Duration,
    op: &(dyn Fn(usize, usize) -> Result<(), StoreError> + Sync),
) -> anyhow::Result<Run> {
    let t0 = Instant::now();
    let until = t0 + time;
    let results: Vec<Result<Vec<f64>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut lat = Vec::new();
                    let mut n = 0;
                    while Instant::now() < until {
                        let a = Instant::now();
                        op(t, n)?;
                        lat.push(ms(a.elapsed()));
                        n += 1;
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError("a thread panicked".into())))
            })
            .collect()
    });
    let wall = t0.elapsed();
    let mut latencies = Vec::new();
    for r in results {
        latencies.extend(r.map_err(err)?);
    }
    Ok(Run {
        ops: latencies.len(),
        wall,
        latencies,
    })
}

/// What each store promises about a commit, for the figures' detail.
fn durability(kind: &str, pg_settings: &Value) -> Value {
    match kind {
        "sqlite" => json!(
            "WAL, synchronous=NORMAL (easel's setting): a commit is written to the WAL but not fsynced; the WAL is fsynced at checkpoints. A power loss may lose the last commits, never the file's consistency; a crash of easel loses nothing"
        ),
        _ => {
            json!({"cluster": pg_settings, "meaning": "the cluster's defaults: each commit waits for its WAL to be flushed to disk (fdatasync) before it returns"})
        }
    }
}

/// Measures one store: every operation on 1 and 4 threads, then a takeover.
fn measure(
    kind: &'static str,
    store: Arc<dyn JobStore>,
    time: Timing,
    takeover_jobs: usize,
    durability: &Value,
    emit: &mut dyn FnMut(Figure),
) -> anyhow::Result<()> {
    let label = if kind == "sqlite" {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    // Each (operation, threads) pair's rounds, in the order first measured.
    let mut series: Vec<Series> = Vec::new();
    let mut record = |op: &str, what: &str, threads: usize, r: Run, how: &'static str| match series
        .iter_mut()
        .find(|s| s.op == op && s.threads == threads)
    {
        Some(s) => s.runs.push(r),
        None => series.push(Series {
            op: op.to_owned(),
            what: what.to_owned(),
            threads,
            how,
            runs: vec![r],
        }),
    };
    for round in 0..time.rounds {
        for threads in THREADS {
            let now = easel::clock::now_ms();
            let id = |t: usize, n: usize| format!("r{round}-t{threads}-{t}-{n:09}");
            let owner = |t: usize| format!("bench-r{round}-t{threads}-{t}");
            // Jobs each thread created, for the updates and reads that follow.
            let made: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
            let r = run(threads, time.each, &|t, n| {
                let job = running_job(id(t, n), now).map_err(|e| StoreError(e.to_string()))?;
                store.insert(&job, &owner(t), now + LEASE_MS)?;
                made[t].store(n + 1, Ordering::Relaxed);
                Ok(())
            })?;
            record(
                "create",
                "create (insert)",
                threads,
                r,
                "insert of a new running job leased to the thread's owner",
            );
            let made: Vec<usize> = made.iter().map(|m| m.load(Ordering::Relaxed)).collect();
            if made.contains(&0) {
                bail!("{label}: a thread created no job in {} ms", ms(time.each));
            }
            // Each thread stores its jobs' final state (succeeded), one job after another,
            // round and round: the write that wakes waiters on other replicas.
            let updated: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
            let finished = |t: usize, k: usize, n: usize| -> Result<Job, StoreError> {
                let mut job = running_job(id(t, k), now).map_err(|e| StoreError(e.to_string()))?;
                job.status = JobStatus::Succeeded;
                job.progress.fraction = 1.0;
                job.progress.message = "done".into();
                job.updated_at_ms = now + n as u64;
                job.finished_at_ms = Some(now + n as u64);
                Ok(job)
            };
            let r = run(threads, time.each, &|t, n| {
                let job = finished(t, n % made[t], n)?;
                if !store.put_held(&job, &owner(t))? {
                    return Err(StoreError(format!("{} is not held by its owner", job.id)));
                }
                updated[t].fetch_max(n + 1, Ordering::Relaxed);
                Ok(())
            })?;
            record(
                "update",
                "update (put_held)",
                threads,
                r,
                "put_held (the write of the process running the job, conditional on its lease) of one of the thread's jobs in its final state (succeeded, finished_at_ms set), the thread's jobs in turn",
            );
            // Jobs the updates did not reach are finished too (untimed): a store where
            // thousands of jobs stay unfinished would make the lease figures scan them all,
            // which no running easel has.
            for (t, m) in made.iter().enumerate() {
                for k in updated[t].load(Ordering::Relaxed)..*m {
                    store.put(&finished(t, k, k).map_err(err)?).map_err(err)?;
                }
            }
            let total: usize = made.iter().sum();
            let r = run(threads, time.each, &|t, n| {
                // A stride across every thread's jobs, so reads do not hit one page.
                let k = (n * 7919 + t * 104_729) % total;
                let (mut owner_t, mut k) = (0, k);
                while k >= made[owner_t] {
                    k -= made[owner_t];
                    owner_t += 1;
                }
                match store.get(&id(owner_t, k))? {
                    Some(_) => Ok(()),
                    None => Err(StoreError(format!("job {} is missing", id(owner_t, k)))),
                }
            })?;
            record(
                "get",
                "get",
                threads,
                r,
                "get of a stored job by id, stride across all created jobs",
            );
            let holder = |t: usize| format!("renew-r{round}-t{threads}-{t}");
            for t in 0..threads {
                for n in 0..HELD {
                    let job = running_job(format!("renew-r{round}-t{threads}-{t}-{n}"), now)?;
                    store
                        .insert(&job, &holder(t), now + LEASE_MS)
                        .map_err(err)?;
                }
            }
            let r = run(threads, time.each, &|t, _| {
                let held = store.renew(&holder(t), easel::clock::now_ms() + LEASE_MS)?;
                if held.len() != HELD {
                    return Err(StoreError(format!(
                        "renew kept {} of {HELD} jobs",
                        held.len()
                    )));
                }
                Ok(())
            })?;
            record(
                "renew",
                "lease renew",
                threads,
                r,
                "renew of one owner's leases (8 unfinished jobs), as each replica does every lease/3",
            );
        }
    }
    for Series {
        op,
        what,
        threads,
        how,
        runs,
    } in series
    {
        let rates: Vec<f64> = runs
            .iter()
            .map(|r| r.ops as f64 / r.wall.as_secs_f64())
            .collect();
        let latencies: Vec<f64> = runs.iter().flat_map(|r| r.latencies.clone()).collect();
        emit(
            Figure::new(
                &format!("store.{kind}.{op}.t{threads}"),
                &format!("{label} store: {what}, {threads} thread(s)"),
                median(&rates),
                "ops/s",
            )
            .detail(json!({
                "rounds_ops_per_s": rates.iter().map(|v| round(*v)).collect::<Vec<_>>(),
                "ops": runs.iter().map(|r| r.ops).sum::<usize>(), "round_ms": round(ms(time.each)),
                "threads": threads,
                "latency_ms": {"p50": round(median(&latencies)), "p99": round(quantile(&latencies, 0.99))},
                "how": how, "durability": durability,
            })),
        );
    }
    // A takeover: a replica died holding jobs; one claim call moves them all.
    let now = easel::clock::now_ms();
    for n in 0..takeover_jobs {
        let job = running_job(format!("gone-{n:09}"), now)?;
        store.insert(&job, "gone", 1).map_err(err)?;
    }
    let t0 = Instant::now();
    let claimed = store
        .claim_unfinished("claimer", now, now + LEASE_MS, &[])
        .map_err(err)?;
    let wall = t0.elapsed();
    if claimed.len() != takeover_jobs {
        bail!(
            "{label}: claim_unfinished took {} jobs, {takeover_jobs} were claimable",
            claimed.len()
        );
    }
    emit(
        Figure::new(
            &format!("store.{kind}.claim"),
            &format!("{label} store: lease claim (takeover of {takeover_jobs} expired jobs in one call)"),
            takeover_jobs as f64 / wall.as_secs_f64(),
            "jobs/s",
        )
        .detail(json!({"jobs": takeover_jobs, "call_ms": round(ms(wall)),
            "how": "claim_unfinished with every job's lease expired: the call a surviving replica makes after one died",
            "durability": durability})),
    );
    Ok(())
}

pub async fn store_ops(opts: &Opts, emit: &mut impl FnMut(Figure)) -> anyhow::Result<()> {
    let time = if opts.quick {
        Timing {
            rounds: 1,
            each: Duration::from_millis(500),
        }
    } else {
        Timing {
            rounds: 3,
            each: Duration::from_secs(1),
        }
    };
    let takeover = if opts.quick { 200 } else { 1000 };
    let database_url = opts.database_url.clone();
    // The stores' calls block (they wait for the disk, or for a PostgreSQL connection's
    // thread): the whole measurement runs off the async runtime, figures collected here.
    let figures = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Figure>> {
        let mut figures = Vec::new();
        let dir = tempfile::Builder::new()
            .prefix("easel-bench-store-")
            .tempdir()
            .context("creating a temp dir")?;
        let sqlite: Arc<dyn JobStore> =
            Arc::new(SqliteStore::open(&dir.path().join("jobs.db")).map_err(err)?);
        let d = durability("sqlite", &Value::Null);
        measure("sqlite", sqlite, time, takeover, &d, &mut |f| {
            figures.push(f)
        })?;
        match database_url {
            Some(url) => {
                let db = FreshDb::create(&url)?;
                let settings = db.settings()?;
                let pg = PgStore::open(&db.url).map_err(err)?;
                let d = durability("postgres", &settings);
                measure("postgres", Arc::new(pg), time, takeover, &d, &mut |f| {
                    figures.push(f)
                })?;
            }
            None => eprintln!(
                "note: no --database-url (or {}): the PostgreSQL store is not measured",
                crate::pgdb::ENV
            ),
        }
        Ok(figures)
    })
    .await
    .context("the store measurement thread")??;
    for f in figures {
        emit(f);
    }
    Ok(())
}
