//! Cross-replica wake-up: a caller waits on replica B (`get_job` with `wait_seconds`) for a
//! job that replica A runs; how long after A finished the job (its `finished_at_ms`, stamped
//! by A just before it stores the final state) B's answer arrives. PostgreSQL (B is woken
//! by LISTEN/NOTIFY) and, for comparison, a SQLite data dir shared by both (B polls). A
//! caller waiting on A for the same job at the same time gives the local figure.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::Opts;
use crate::http;
use crate::pgdb::FreshDb;
use crate::replicas::{Replicas, Store, simulator};
use crate::report::{Figure, max, median, quantile, round};
use crate::server::{Sandbox, epoch_ms_now};

/// The simulator's time per job: long enough that both waiters are waiting when A finishes,
/// even when B's call starts up to [`SPREAD_MS`] late.
const JOB_TIME: Duration = Duration::from_millis(400);
/// B's call starts 0 to this many ms after the job, a different offset each sample: a
/// waiter that polls (SQLite, every 250 ms) would otherwise meet every job's end at the
/// same phase of its polls, and show one lag instead of their spread.
const SPREAD_MS: u64 = 250;
/// A sample whose job finished sooner than this after B's call was sent may have been read
/// by B directly rather than woken: it is left out (and counted).
const MIN_WAITING_MS: f64 = 20.0;

/// One waiter's answer: when it arrived and what it said.
struct Answer {
    sent_ms: f64,
    at_ms: f64,
    result: Value,
}

async fn wait_for(addr: &str, job: &str) -> anyhow::Result<Answer> {
    let sent_ms = epoch_ms_now();
    let result = http::call_tool(
        addr,
        "get_job",
        json!({"job_id": job, "wait_seconds": 30, "preview": "none"}),
    )
    .await?;
    Ok(Answer {
        sent_ms,
        at_ms: epoch_ms_now(),
        result,
    })
}

fn finished_at(result: &Value) -> Option<f64> {
    result["timings"]["finished_at_ms"]
        .as_f64()
        .or_else(|| result["finished_at_ms"].as_f64())
}

/// Wake-up samples on two replicas of `store`: (B's lags, A's lags, samples left out).
async fn samples(
    easel: &Path,
    store: &Store<'_>,
    n: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>, usize)> {
    let sim = simulator(JOB_TIME).await?;
    let sandbox = Sandbox::new()?;
    // A learns of the simulator's result within 50 ms; the figure starts when A has it.
    let extra = [
        ("EASEL_MODELSCOPE_POLL_INITIAL_MS", "50".to_owned()),
        ("EASEL_MODELSCOPE_POLL_MAX_MS", "50".to_owned()),
    ];
    let replicas = Replicas::start(easel, &sandbox, 2, store, &sim, &extra).await?;
    let (a, b) = (&replicas.addrs[0], &replicas.addrs[1]);
    let (mut remote, mut local, mut left_out) = (Vec::new(), Vec::new(), 0);
    // Two uncounted rounds first: connections, statement caches.
    for i in 0..n + 2 {
        let started = http::call_tool(
            a,
            "generate_image",
            json!({"prompt": "a lighthouse", "size": "64x64", "seed": i, "wait_seconds": 0, "preview": "none"}),
        )
        .await?;
        let job = started["job_id"]
            .as_str()
            .with_context(|| format!("generate_image gave no job_id: {started}"))?
            .to_owned();
        // Offsets 0, 101, 202, 53, … ms (a stride coprime to the spread covers it evenly).
        let offset = Duration::from_millis((i as u64 * 101) % SPREAD_MS);
        let late_b = async {
            tokio::time::sleep(offset).await;
            wait_for(b, &job).await
        };
        let (on_b, on_a) = tokio::join!(late_b, wait_for(a, &job));
        let (on_b, on_a) = (on_b?, on_a?);
        for (who, answer) in [("B", &on_b), ("A", &on_a)] {
            if answer.result["status"] != "succeeded" {
                bail!(
                    "replica {who} answered get_job for {job} with: {}",
                    answer.result
                );
            }
        }
        let done = finished_at(&on_b.result)
            .with_context(|| format!("no finished_at_ms in {}", on_b.result))?;
        if i < 2 {
            continue;
        }
        if done - on_b.sent_ms < MIN_WAITING_MS {
            left_out += 1;
            continue;
        }
        remote.push(on_b.at_ms - done);
        local.push(on_a.at_ms - done);
    }
    replicas.stop().await;
    Ok((remote, local, left_out))
}

pub async fn wakeup(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let n = if opts.quick { 10 } else { 120 };
    let db = match opts.database_url.as_deref() {
        Some(url) => Some(FreshDb::create(url)?),
        None => {
            eprintln!(
                "note: no --database-url (or {}): only the SQLite comparison runs",
                crate::pgdb::ENV
            );
            None
        }
    };
    let mut stores = Vec::new();
    if let Some(db) = &db {
        stores.push(Store::Postgres(db));
    }
    stores.push(Store::SharedSqlite);
    for store in stores {
        let (remote, local, left_out) = samples(easel, &store, n).await?;
        let kind = store.kind();
        let (label, how) = match store {
            Store::Postgres(_) => (
                "PostgreSQL",
                "B's get_job is woken by LISTEN/NOTIFY (trigger on the job's row, channel easel_jobs)",
            ),
            Store::SharedSqlite => (
                "shared SQLite",
                "B reads the store every 250 ms while it waits (no notifications across processes)",
            ),
        };
        let detail = json!({
            "samples": remote.len(), "left_out": left_out,
            "remote_ms": {"p50": round(median(&remote)), "p90": round(quantile(&remote, 0.9)), "p99": round(quantile(&remote, 0.99)), "max": round(max(&remote))},
            "local_ms": {"p50": round(median(&local)), "p99": round(quantile(&local, 0.99)), "max": round(max(&local))},
            "job_ms": JOB_TIME.as_millis(), "b_call_offset_ms": format!("0..{SPREAD_MS}, stride 101"), "how": how,
            "measured": "B's answer arrives at the caller − the job's finished_at_ms (A's clock, the same machine's); get_job with wait_seconds 30, preview none, over sessionless HTTP",
        });
        let p99 = Figure::new(
            &format!("wakeup.{kind}.p99"),
            &format!("cross-replica wake-up ({label}): A finished → B's answer, p99"),
            quantile(&remote, 0.99),
            "ms",
        )
        .detail(detail.clone());
        emit(Figure::new(
            &format!("wakeup.{kind}.p50"),
            &format!("cross-replica wake-up ({label}): A finished → B's answer, p50"),
            median(&remote),
            "ms",
        ));
        emit(if kind == "postgres" {
            p99.at_most(100.0)
        } else {
            p99
        });
        emit(
            Figure::new(
                &format!("wakeup.{kind}.local_p50"),
                &format!("same job, caller on A itself ({label}), p50 (context)"),
                median(&local),
                "ms",
            )
            .detail(detail),
        );
    }
    drop(db);
    Ok(())
}
