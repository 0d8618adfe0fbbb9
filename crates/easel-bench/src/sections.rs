//! The measurements. Each section starts what it needs (simulator, sandbox, easel process),
//! measures, emits figures, and tears everything down.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use easel_sim::{ComfyConfig, ComfySim, ModelScopeConfig, ModelScopeSim};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::Opts;
use crate::comfy_watch::Watcher;
use crate::procfs;
use crate::report::{Figure, max, median, quantile, round};
use crate::server::{Outcome, Sandbox, Session, epoch_ms_now};

/// Longest any single tool call may take before the run is declared broken.
const CALL_LIMIT: Duration = Duration::from_secs(90);
/// The image size of every generation: the default of `generate_image`.
const SIZE: &str = "1024x1024";
/// ComfyUI sampler steps; `step_latency = L / STEPS` makes a job take L.
const STEPS: u32 = 20;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `nproc`, CPU model and memory, from `/proc`.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown".to_owned(), |(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({
        "cpu": cpu,
        "nproc": nproc,
        "memory": format!("{:.1} GiB", mem_kib as f64 / 1024.0 / 1024.0),
        "load": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    })
}

/// A ModelScope simulator whose tasks take exactly `latency`: terminal from the first poll
/// after it (no scripted in-progress answers), with quotas out of the way.
fn modelscope_config(latency: Duration, record: bool) -> ModelScopeConfig {
    ModelScopeConfig {
        latency,
        in_progress_polls: 0,
        record_requests: record,
        daily_limit_per_token: 1_000_000,
        daily_limit_per_model: 1_000_000,
        ..ModelScopeConfig::default()
    }
}

fn modelscope_env(sim: &ModelScopeSim) -> Vec<(&'static str, String)> {
    vec![
        ("MODELSCOPE_BASE_URL", sim.base_url()),
        ("MODELSCOPE_SDK_TOKEN", "ms-bench-token".to_owned()),
    ]
}

fn generate_args(seed: u64, extra: Value) -> Value {
    let mut args = json!({
        "prompt": "a lighthouse on a cliff at dawn, watercolor",
        "size": SIZE,
        "seed": seed,
        "wait_seconds": 60,
    });
    if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            a.insert(k.clone(), v.clone());
        }
    }
    args
}

/// One generate call with a time limit: (wall time, outcome).
async fn timed_call(session: &Session, args: Value, token: &str) -> (Duration, Outcome) {
    let t0 = Instant::now();
    let answer =
        tokio::time::timeout(CALL_LIMIT, session.call("generate_image", args, token)).await;
    let wall = t0.elapsed();
    let outcome = match answer {
        Ok(Ok(r)) => Outcome::of(&r),
        Ok(Err(e)) => Outcome {
            error: Some(format!("{e:#}")),
            ..Outcome::default()
        },
        Err(_) => Outcome {
            error: Some(format!("no answer within {} s", CALL_LIMIT.as_secs())),
            ..Outcome::default()
        },
    };
    (wall, outcome)
}

fn require_ok(what: &str, outcome: &Outcome) -> anyhow::Result<()> {
    if !outcome.ok {
        bail!(
            "{what}: the call did not succeed (status {:?}): {}",
            outcome.status,
            outcome.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

fn summary(samples: &[f64]) -> Value {
    json!({
        "n": samples.len(),
        "median": round(median(samples)),
        "p90": round(quantile(samples, 0.9)),
        "max": round(max(samples)),
        "samples": samples.iter().map(|v| round(*v)).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------------------
// Cold start

/// spawn → initialize → tools/list, as a client launches `easel serve`.
pub async fn cold_start(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let runs = if opts.quick { 5 } else { 30 };
    let sandbox = Sandbox::new()?;
    // The first launch creates the job store; clients relaunch against an existing one.
    let first = launch_once(easel, &sandbox).await?;
    let mut samples = Vec::with_capacity(runs);
    let mut tools = 0;
    for _ in 0..runs {
        let (elapsed, n) = launch_once(easel, &sandbox).await?;
        samples.push(ms(elapsed));
        tools = n;
    }
    let detail = json!({"first_launch_ms": round(ms(first.0)), "tools": tools, "runs": summary(&samples),
        "how": "easel --config <tmp>/easel.toml serve (empty file), existing data dir; timer from spawn to the tools/list answer"});
    emit(
        Figure::new(
            "cold_start.median",
            "cold start (spawn → initialize → tools/list), median",
            median(&samples),
            "ms",
        )
        .at_most(15.0)
        .detail(detail.clone()),
    );
    emit(
        Figure::new(
            "cold_start.p90",
            "cold start, p90",
            quantile(&samples, 0.9),
            "ms",
        )
        .detail(detail),
    );
    emit(Figure::new(
        "cold_start.first",
        "cold start, first launch (creates jobs.db)",
        ms(first.0),
        "ms",
    ));
    Ok(())
}

async fn launch_once(easel: &Path, sandbox: &Sandbox) -> anyhow::Result<(Duration, usize)> {
    let t0 = Instant::now();
    let session = Session::start(easel, sandbox, &[]).await?;
    let tools = tokio::time::timeout(CALL_LIMIT, session.client.list_all_tools())
        .await
        .context("tools/list timed out")?
        .context("tools/list")?;
    let elapsed = t0.elapsed();
    session.stop().await;
    Ok((elapsed, tools.len()))
}

// ---------------------------------------------------------------------------------------
// ModelScope: overhead and completion detection, default and tuned polling

pub async fn modelscope(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let encode = sim_png_ms();
    emit(
        Figure::new("sim.png_1024", "simulator: encode one 1024² PNG (context)", encode, "ms")
            .detail(json!({"what": "easel_sim::picture::png(1024, 1024) in this process; the simulators pay it once per image, on first download (ModelScope) or in SaveImage (ComfyUI)"})),
    );
    modelscope_schedule(easel, opts, emit, None).await?;
    modelscope_schedule(easel, opts, emit, Some(50)).await
}

/// Median time the simulator takes to encode one image of the benchmark's size.
fn sim_png_ms() -> f64 {
    let samples: Vec<f64> = (0..5)
        .map(|i| {
            let t0 = Instant::now();
            let png = easel_sim::picture::png(1024, 1024, &format!("bench-{i}"));
            std::hint::black_box(png);
            ms(t0.elapsed())
        })
        .collect();
    median(&samples)
}

fn latencies(opts: &Opts) -> [(u64, usize); 3] {
    if opts.quick {
        [(0, 3), (1, 1), (3, 1)]
    } else {
        [(0, 20), (1, 5), (3, 3)]
    }
}

async fn modelscope_schedule(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
    poll_initial_ms: Option<u64>,
) -> anyhow::Result<()> {
    let sim = ModelScopeSim::start(modelscope_config(Duration::ZERO, true)).await?;
    let sandbox = Sandbox::new()?;
    let mut env = modelscope_env(&sim);
    if let Some(initial) = poll_initial_ms {
        env.push(("EASEL_MODELSCOPE_POLL_INITIAL_MS", initial.to_string()));
    }
    let session = Session::start(easel, &sandbox, &env).await?;
    let (tag, label) = match poll_initial_ms {
        None => ("modelscope".to_owned(), "ModelScope".to_owned()),
        Some(i) => (
            format!("modelscope_poll{i}"),
            format!("ModelScope, EASEL_MODELSCOPE_POLL_INITIAL_MS={i}"),
        ),
    };
    // Warm-up: connection pool, SQLite pages, lazy statics.
    let (_, warm) = timed_call(&session, generate_args(1, json!({})), "warm").await;
    require_ok("ModelScope warm-up", &warm)?;
    let mut seed = 100;
    for (latency_s, runs) in latencies(opts) {
        let latency = Duration::from_secs(latency_s);
        sim.update(|c| c.latency = latency);
        let (mut overhead, mut detection, mut after, mut polls) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            seed += 1;
            let (wall, outcome) = timed_call(
                &session,
                generate_args(seed, json!({})),
                &format!("t{seed}"),
            )
            .await;
            let answered = Instant::now();
            let answered_epoch = epoch_ms_now();
            require_ok(&format!("{label}, latency {latency_s} s"), &outcome)?;
            let task = last_task_id(&sim).context("no poll reached the simulator")?;
            let done = sim
                .mark_done_at(&task)
                .context("the simulator never marked the task done")?;
            overhead.push(ms(wall) - ms(latency));
            detection.push(ms(answered.saturating_duration_since(done)));
            polls.push(sim.polls(&task) as f64);
            if let Some(finished) = outcome.finished_at_ms {
                after.push(answered_epoch - finished as f64);
            }
        }
        let detail = json!({
            "latency_s": latency_s, "overhead_ms": summary(&overhead), "detection_ms": summary(&detection),
            "polls_per_job": summary(&polls), "result_after_job_finished_ms": summary(&after),
            "poll_initial_ms": poll_initial_ms.unwrap_or(250), "size": SIZE, "preview": "thumbnail",
        });
        let mut f = Figure::new(
            &format!("{tag}.overhead.l{latency_s}"),
            &format!("{label}: overhead at latency {latency_s} s, median"),
            median(&overhead),
            "ms",
        )
        .detail(detail.clone());
        if poll_initial_ms.is_none() {
            match latency_s {
                0 => f = f.at_most(300.0),
                3 => f = f.at_most(1000.0),
                _ => {}
            }
        }
        emit(f);
        emit(
            Figure::new(
                &format!("{tag}.detection.l{latency_s}"),
                &format!("{label}: done → tool result at latency {latency_s} s, median"),
                median(&detection),
                "ms",
            )
            .detail(detail.clone()),
        );
        emit(
            Figure::new(
                &format!("{tag}.polls.l{latency_s}"),
                &format!("{label}: polls per job at latency {latency_s} s"),
                median(&polls),
                "",
            )
            .detail(detail),
        );
    }
    session.stop().await;
    Ok(())
}

/// The task id in the most recent poll path `/v1/tasks/{id}`.
fn last_task_id(sim: &ModelScopeSim) -> Option<String> {
    sim.requests()
        .iter()
        .rev()
        .find_map(|r| r.path.strip_prefix("/v1/tasks/").map(str::to_owned))
}

// ---------------------------------------------------------------------------------------
// ComfyUI: overhead and completion detection over the WebSocket

pub async fn comfyui(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let sim = ComfySim::start(ComfyConfig::default()).await?;
    let watcher = Watcher::connect(sim.addr()).await?;
    let sandbox = Sandbox::new()?;
    let env = vec![
        ("COMFYUI_URL", sim.base_url()),
        ("EASEL_DEFAULT_BACKEND", "comfyui".to_owned()),
    ];
    let session = Session::start(easel, &sandbox, &env).await?;
    let steps = json!({"steps": STEPS});
    let (_, warm) = timed_call(&session, generate_args(1, steps.clone()), "warm").await;
    require_ok("ComfyUI warm-up", &warm)?;
    let mut seed = 100;
    for (latency_s, runs) in latencies(opts) {
        let latency = Duration::from_secs(latency_s);
        sim.update(|c| c.step_latency = latency / STEPS);
        let (mut overhead, mut detection, mut after) = (vec![], vec![], vec![]);
        let (mut share, mut sim_time) = (vec![], vec![]);
        for _ in 0..runs {
            seed += 1;
            let t0 = Instant::now();
            let (wall, outcome) = timed_call(
                &session,
                generate_args(seed, steps.clone()),
                &format!("t{seed}"),
            )
            .await;
            let answered = t0 + wall;
            let answered_epoch = epoch_ms_now();
            require_ok(&format!("ComfyUI, latency {latency_s} s"), &outcome)?;
            overhead.push(ms(wall) - ms(latency));
            let queued = watcher.queued_after(t0).await;
            let done = watcher.done_after(t0).await;
            if let Some(done) = done {
                detection.push(ms(answered.saturating_duration_since(done)));
            }
            if let (Some(queued), Some(done)) = (queued, done) {
                // Call start → job accepted, plus job done → tool result.
                share.push(
                    ms(queued.saturating_duration_since(t0))
                        + ms(answered.saturating_duration_since(done)),
                );
                sim_time.push(ms(done.saturating_duration_since(queued)));
            }
            if let Some(finished) = outcome.finished_at_ms {
                after.push(answered_epoch - finished as f64);
            }
        }
        let detail = json!({
            "latency_s": latency_s, "steps": STEPS, "step_latency_ms": ms(latency / STEPS),
            "overhead_ms": summary(&overhead), "detection_ms": summary(&detection),
            "easel_share_ms": summary(&share), "simulator_job_ms": summary(&sim_time),
            "result_after_job_finished_ms": summary(&after), "size": SIZE, "preview": "thumbnail",
            "note": "overhead = wall - the simulator's measured job time (queued → done, seen by a second WebSocket client) = (call start → job queued) + (job done → tool result); wall - L also counts the simulator's own work beyond L (graph validation, latent previews, one 1024² PNG encode in SaveImage), which at L = 0 is most of the job",
        });
        let mut f = Figure::new(
            &format!("comfyui.overhead.l{latency_s}"),
            &format!(
                "ComfyUI: overhead (wall − simulator's job time) at latency {latency_s} s, median"
            ),
            median(&share),
            "ms",
        )
        .detail(detail.clone());
        if latency_s != 1 {
            f = f.at_most(30.0);
        }
        emit(f);
        emit(
            Figure::new(
                &format!("comfyui.nominal.l{latency_s}"),
                &format!("ComfyUI: wall − L at latency {latency_s} s, median"),
                median(&overhead),
                "ms",
            )
            .detail(detail.clone()),
        );
        emit(
            Figure::new(
                &format!("comfyui.simulator.l{latency_s}"),
                &format!(
                    "ComfyUI: simulator's job time (queued → done) at latency {latency_s} s, median"
                ),
                median(&sim_time),
                "ms",
            )
            .detail(detail.clone()),
        );
        emit(
            Figure::new(
                &format!("comfyui.detection.l{latency_s}"),
                &format!("ComfyUI: done → tool result at latency {latency_s} s, median"),
                median(&detection),
                "ms",
            )
            .detail(detail),
        );
    }
    session.stop().await;
    drop(watcher);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Concurrency and memory

pub async fn concurrency(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    // The last case is a diagnostic: the same K = 256 run without inline previews, to show
    // how much of the time and memory the thumbnails take.
    for (k, preview) in [
        (1usize, "thumbnail"),
        (8, "thumbnail"),
        (32, "thumbnail"),
        (256, "thumbnail"),
        (256, "none"),
    ] {
        let diagnostic = preview == "none";
        let sim = ModelScopeSim::start(modelscope_config(Duration::from_secs(1), false)).await?;
        let sandbox = Sandbox::new()?;
        let mut env = modelscope_env(&sim);
        env.push(("EASEL_JOBS_MAX_RUNNING_PER_BACKEND", "512".to_owned()));
        let session = Session::start(easel, &sandbox, &env).await?;
        tokio::time::timeout(CALL_LIMIT, session.client.list_all_tools())
            .await
            .context("tools/list timed out")?
            .context("tools/list")?;
        tokio::time::sleep(Duration::from_millis(if opts.quick { 300 } else { 1000 })).await;
        let idle = procfs::memory(session.pid).context("reading easel's memory")?;

        // Sample RSS while the calls run; VmHWM gives the exact peak afterwards.
        let pid = session.pid;
        let running = Arc::new(AtomicBool::new(true));
        let sampled_peak = Arc::new(AtomicU64::new(0));
        let sampler = {
            let (running, peak) = (running.clone(), sampled_peak.clone());
            tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    if let Some(m) = procfs::memory(pid) {
                        peak.fetch_max(m.rss_kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let easel_cpu0 = procfs::cpu_ticks(pid).unwrap_or(0);
        let own_cpu0 = procfs::own_cpu_ticks().unwrap_or(0);
        let t0 = Instant::now();
        let calls = (0..k).map(|i| {
            let session = &session;
            async move {
                let args = generate_args(1000 + i as u64, json!({"preview": preview}));
                timed_call(session, args, &format!("k{i}")).await
            }
        });
        let results = join_all(calls).await;
        let total = t0.elapsed();
        running.store(false, Ordering::Relaxed);
        let _ = sampler.await;
        let tick = ms(procfs::tick());
        let easel_cpu = (procfs::cpu_ticks(pid)
            .unwrap_or(0)
            .saturating_sub(easel_cpu0)) as f64
            * tick;
        let own_cpu = (procfs::own_cpu_ticks()
            .unwrap_or(0)
            .saturating_sub(own_cpu0)) as f64
            * tick;
        let mem = procfs::memory(pid).unwrap_or_default();
        let per_call: Vec<f64> = results.iter().map(|(d, _)| ms(*d)).collect();
        let errors: Vec<&Outcome> = results.iter().map(|(_, o)| o).filter(|o| !o.ok).collect();
        let first_error = errors.first().and_then(|o| o.error.clone());
        let detail = json!({
            "k": k, "latency_s": 1, "size": SIZE, "preview": preview,
            "EASEL_JOBS_MAX_RUNNING_PER_BACKEND": 512,
            "per_call_ms": {"p50": round(median(&per_call)), "p99": round(quantile(&per_call, 0.99)), "max": round(max(&per_call))},
            "errors": errors.len(), "first_error": first_error,
            "easel_cpu_ms": round(easel_cpu), "bench_process_cpu_ms (simulator + client)": round(own_cpu),
            "idle_rss_mib": round(mib(idle.rss_kib)), "idle_anon_mib": round(mib(idle.anon_kib)),
            "idle_file_mib (binary and libraries)": round(mib(idle.file_kib)), "idle_threads": idle.threads,
            "peak_rss_mib (VmHWM)": round(mib(mem.hwm_kib)), "threads_after": mem.threads,
            "peak_rss_sampled_mib": round(mib(sampled_peak.load(Ordering::Relaxed))),
            "progress_notifications": session.counter.progress.load(Ordering::Relaxed),
        });
        if diagnostic {
            let tag = "concurrency.k256_no_preview";
            let what = "K = 256, preview none (diagnostic)";
            emit(
                Figure::new(
                    &format!("{tag}.total"),
                    &format!("{what}: total wall time"),
                    ms(total),
                    "ms",
                )
                .detail(detail.clone()),
            );
            emit(Figure::new(
                &format!("{tag}.p50"),
                &format!("{what}: per-call p50"),
                median(&per_call),
                "ms",
            ));
            emit(Figure::new(
                &format!("{tag}.errors"),
                &format!("{what}: errors"),
                errors.len() as f64,
                "",
            ));
            emit(Figure::new(
                &format!("{tag}.peak_rss"),
                &format!("{what}: easel peak RSS"),
                mib(mem.hwm_kib),
                "MiB",
            ));
            emit(
                Figure::new(
                    &format!("{tag}.cpu_per_call"),
                    &format!("{what}: easel CPU per call"),
                    easel_cpu / k as f64,
                    "ms",
                )
                .detail(detail),
            );
            session.stop().await;
            continue;
        }
        let mut total_f = Figure::new(
            &format!("concurrency.k{k}.total"),
            &format!("K = {k} concurrent calls at 1 s: total wall time"),
            ms(total),
            "ms",
        )
        .detail(detail.clone());
        match k {
            32 => total_f = total_f.at_most(1600.0),
            256 => total_f = total_f.at_most(3000.0),
            _ => {}
        }
        emit(total_f);
        emit(Figure::new(
            &format!("concurrency.k{k}.p50"),
            &format!("K = {k}: per-call p50"),
            median(&per_call),
            "ms",
        ));
        emit(Figure::new(
            &format!("concurrency.k{k}.p99"),
            &format!("K = {k}: per-call p99"),
            quantile(&per_call, 0.99),
            "ms",
        ));
        let mut err_f = Figure::new(
            &format!("concurrency.k{k}.errors"),
            &format!("K = {k}: errors"),
            errors.len() as f64,
            "",
        );
        if k == 256 {
            err_f = err_f.at_most(0.0);
        }
        emit(err_f.detail(detail.clone()));
        if k == 256 {
            emit(
                Figure::new(
                    "memory.idle",
                    "easel RSS idle after initialize",
                    mib(idle.rss_kib),
                    "MiB",
                )
                .at_most(15.0)
                .detail(detail.clone()),
            );
            emit(
                Figure::new(
                    "memory.peak_k256",
                    "easel peak RSS during K = 256 (1024² images)",
                    mib(mem.hwm_kib),
                    "MiB",
                )
                .at_most(80.0)
                .detail(detail.clone()),
            );
            emit(
                Figure::new(
                    "cpu.k256_per_call",
                    "easel CPU per call during K = 256 (thumbnail)",
                    easel_cpu / k as f64,
                    "ms",
                )
                .detail(detail),
            );
        }
        session.stop().await;
        drop(sim);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// CPU per call

pub async fn cpu(easel: &Path, opts: &Opts, emit: &mut impl FnMut(Figure)) -> anyhow::Result<()> {
    let batch: usize = if opts.quick { 16 } else { 64 };
    let wave: usize = 8;
    let sim = ModelScopeSim::start(modelscope_config(Duration::ZERO, false)).await?;
    let sandbox = Sandbox::new()?;
    let session = Session::start(easel, &sandbox, &modelscope_env(&sim)).await?;
    for i in 0..4 {
        let (_, o) = timed_call(&session, generate_args(i, json!({})), "warm").await;
        require_ok("CPU warm-up", &o)?;
    }
    let tick = procfs::tick();
    let mut seed = 10_000;
    for (preview, limit) in [("thumbnail", 15.0), ("none", 5.0)] {
        let before = procfs::cpu_ticks(session.pid).context("reading easel's CPU time")?;
        let t0 = Instant::now();
        let mut failures = 0;
        for _ in 0..batch / wave {
            let first = seed;
            seed += wave as u64;
            let calls = (0..wave).map(|i| {
                let args = generate_args(first + i as u64, json!({"preview": preview}));
                let session = &session;
                async move { timed_call(session, args, &format!("c{i}")).await }
            });
            failures += join_all(calls).await.iter().filter(|(_, o)| !o.ok).count();
        }
        let wall = t0.elapsed();
        let used = procfs::cpu_ticks(session.pid)
            .unwrap_or(before)
            .saturating_sub(before);
        if failures > 0 {
            bail!("{failures} of {batch} calls failed while measuring CPU time");
        }
        let per_call = ms(tick) * used as f64 / batch as f64;
        let label = if preview == "none" {
            "easel CPU per call, preview none".to_owned()
        } else {
            "easel CPU per call, thumbnail of a 1024² image".to_owned()
        };
        emit(
            Figure::new(&format!("cpu.per_call.{preview}"), &label, per_call, "ms")
                .at_most(limit)
                .detail(json!({"calls": batch, "concurrent": wave, "ticks": used, "tick_ms": ms(tick),
                    "batch_wall_ms": round(ms(wall)), "latency_s": 0, "size": SIZE,
                    "how": "utime+stime of the easel process from /proc/<pid>/stat around the batch, divided by calls; includes idle timers during the batch"})),
        );
    }
    session.stop().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// ComfyUI pool: the same burst on 1, 2 and 3 servers

/// Seconds of sampling per job in the pool section.
const POOL_JOB_SECS: u64 = 1;
/// Smaller than `SIZE`, so that a job is its sampling time and not the simulator's PNG
/// encoding.
const POOL_SIZE: &str = "256x256";

/// `[[comfyui.servers]]` for the simulators, named `sim-1`, `sim-2`, ….
fn pool_config(sims: &[ComfySim]) -> String {
    sims.iter()
        .enumerate()
        .map(|(i, sim)| {
            format!(
                "[[comfyui.servers]]\nname = \"sim-{}\"\nurl = \"{}\"\n\n",
                i + 1,
                sim.base_url()
            )
        })
        .collect()
}

/// N jobs of 1 s submitted at once through MCP to a pool of 1, 2 and 3 single-slot
/// ComfyUI simulators (ComfyUI runs one job at a time): total wall time and where the jobs
/// went.
pub async fn comfy_pool(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let jobs: usize = if opts.quick { 6 } else { 30 };
    let latency = Duration::from_secs(POOL_JOB_SECS) / STEPS;
    for servers in 1..=3usize {
        let mut sims = Vec::with_capacity(servers);
        for _ in 0..servers {
            sims.push(
                ComfySim::start(ComfyConfig {
                    step_latency: latency,
                    ..ComfyConfig::default()
                })
                .await?,
            );
        }
        let sandbox = Sandbox::new()?;
        std::fs::write(sandbox.config(), pool_config(&sims))?;
        let env = vec![("EASEL_DEFAULT_BACKEND", "comfyui".to_owned())];
        let session = Session::start(easel, &sandbox, &env).await?;
        let args = |seed: u64| generate_args(seed, json!({"steps": STEPS, "size": POOL_SIZE}));
        // Warm-up, one job per server at once: connections, and each server's measured
        // job time, as in a pool that has been running for a while.
        let warm = join_all((0..servers).map(|i| {
            let session = &session;
            async move { timed_call(session, args(i as u64), &format!("w{i}")).await }
        }))
        .await;
        for (_, o) in &warm {
            require_ok("ComfyUI pool warm-up", o)?;
        }
        let before: Vec<usize> = sims.iter().map(|s| s.prompts().len()).collect();
        let t0 = Instant::now();
        let results = join_all((0..jobs).map(|i| {
            let session = &session;
            async move { timed_call(session, args(1000 + i as u64), &format!("p{i}")).await }
        }))
        .await;
        let total = t0.elapsed();
        let per_server: Vec<usize> = sims
            .iter()
            .zip(&before)
            .map(|(s, b)| s.prompts().len() - b)
            .collect();
        let errors: Vec<&Outcome> = results.iter().map(|(_, o)| o).filter(|o| !o.ok).collect();
        let per_call: Vec<f64> = results.iter().map(|(d, _)| ms(*d)).collect();
        let ideal = (jobs as f64 / servers as f64).ceil() * POOL_JOB_SECS as f64;
        let detail = json!({
            "servers": servers, "jobs": jobs, "job_secs": POOL_JOB_SECS, "steps": STEPS,
            "step_latency_ms": ms(latency), "size": POOL_SIZE,
            "jobs_per_server": per_server, "ideal_s": ideal,
            "per_call_ms": {"p50": round(median(&per_call)), "max": round(max(&per_call))},
            "errors": errors.len(), "first_error": errors.first().and_then(|o| o.error.clone()),
            "how": "all jobs submitted at once (generate_image, wait_seconds 60) after a warm-up of one job per server; wall time from the first call to the last answer",
        });
        emit(
            Figure::new(
                &format!("comfy_pool.s{servers}.total"),
                &format!("ComfyUI pool: {jobs} jobs of {POOL_JOB_SECS} s on {servers} server(s), total wall time"),
                total.as_secs_f64(),
                "s",
            )
            .at_most(ideal * 1.15)
            .detail(detail.clone()),
        );
        for (i, n) in per_server.iter().enumerate() {
            emit(Figure::new(
                &format!("comfy_pool.s{servers}.sim{}", i + 1),
                &format!("ComfyUI pool of {servers}: jobs on sim-{}", i + 1),
                *n as f64,
                "",
            ));
        }
        emit(
            Figure::new(
                &format!("comfy_pool.s{servers}.errors"),
                &format!("ComfyUI pool of {servers}: errors"),
                errors.len() as f64,
                "",
            )
            .at_most(0.0)
            .detail(detail),
        );
        session.stop().await;
        drop(sims);
    }
    Ok(())
}
