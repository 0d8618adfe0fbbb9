//! The gallery (`easel serve --http`, `/` and `/gallery/…`) over a store of 10,000 jobs and
//! 50,000 images: the index request, the page's weight, cached thumbnails, and how late a
//! job's change reaches the page's event stream after the backend made it.
//!
//! easel runs as a child process; requests are plain HTTP/1.1 on loopback from this
//! process (`crate::http`: one connection per request, so each time includes a TCP
//! connect: an upper bound of the server's time).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use easel::jobs::{Job, JobProgress, JobStatus, JobStore, OutputSpec, SavedImage, SqliteStore};
use easel::request::{GenerateRequest, Size};
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::Opts;
use crate::http::{self, request};
use crate::report::{Figure, median, quantile, round};
use crate::server::Sandbox;

const STORE_JOBS: usize = 10_000;
const IMAGES_PER_JOB: u32 = 5;
/// Jobs whose images exist on disk, for thumbnails.
const WITH_FILES: usize = 100;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A finished job of five images, as the store keeps it; the first `WITH_FILES` point at
/// a real file.
fn stored_job(i: usize, now_ms: u64, file: Option<&Path>, out: &Path) -> anyhow::Result<Job> {
    let at = now_ms - (STORE_JOBS - i) as u64 * 1000;
    let backend = ["modelscope", "comfyui", "siliconflow"][i % 3];
    let images = (0..IMAGES_PER_JOB)
        .map(|index| SavedImage {
            index,
            path: file.map_or_else(
                || out.join(format!("jobs/{i}/image-{index}.png")),
                Path::to_path_buf,
            ),
            url: None,
            mime: "image/png".into(),
            width: 1024,
            height: 1024,
            bytes: 1_500_000,
            seed: Some(i as u64 + u64::from(index)),
            revised_prompt: None,
            usage: None,
            media: Default::default(),
        })
        .collect();
    Ok(Job {
        id: format!("{i:032x}"),
        backend: backend.into(),
        request: GenerateRequest {
            prompt: format!(
                "a lighthouse on a cliff at dawn, watercolor, soft light, seagulls, variant {i}"
            ),
            negative_prompt: None,
            model: Some(["Qwen/Qwen-Image", "FLUX.1-Krea-dev"][i % 2].into()),
            size: Size::parse("1024x1024")?,
            seed: i as u64,
            steps: Some(30),
            guidance: None,
            loras: None,
            count: IMAGES_PER_JOB,
            workflow: None,
            params: serde_json::Map::new(),
            sources: Vec::new(),
            mask: None,
        },
        output: OutputSpec::default(),
        status: if i.is_multiple_of(10) {
            JobStatus::Failed
        } else {
            JobStatus::Succeeded
        },
        progress: JobProgress {
            fraction: 1.0,
            message: "done".into(),
            queue_position: None,
        },
        ticket: None,
        images,
        pending_files: Vec::new(),
        failures: Vec::new(),
        error: None,
        warnings: Vec::new(),
        idempotency_key: i
            .is_multiple_of(4)
            .then(|| format!("batch:night-{}:{i}:00ff00ff", i / 400)),
        created_at_ms: at,
        updated_at_ms: at + 900,
        finished_at_ms: Some(at + 900),
    })
}

fn seed_store(sandbox: &Sandbox) -> anyhow::Result<()> {
    let out = sandbox.dir.path().join("out");
    let picture = out.join("picture.png");
    std::fs::write(
        &picture,
        easel_sim::picture::png(1024, 1024, "gallery-bench"),
    )?;
    let store = SqliteStore::open(&sandbox.dir.path().join("data").join("jobs.db"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = easel::clock::now_ms();
    for i in 0..STORE_JOBS {
        // Newest jobs have files: the first page's thumbnails exist.
        let file = if i >= STORE_JOBS - WITH_FILES {
            let path = out.join(format!("files/{i}.png"));
            std::fs::create_dir_all(out.join("files"))?;
            std::fs::hard_link(&picture, &path)
                .or_else(|_| std::fs::copy(&picture, &path).map(|_| ()))?;
            Some(path)
        } else {
            None
        };
        let job = stored_job(i, now, file.as_deref(), &out)?;
        store.put(&job).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // The job the lag figure runs again: one small image, so that the simulator's drawing
    // and easel's saving are a few milliseconds and the figure is about the gallery's path.
    let mut small = stored_job(0, now, None, &out)?;
    small.id = LAG_SEED.into();
    small.created_at_ms -= 1;
    small.request.size = Size::parse("64x64")?;
    small.request.count = 1;
    small.idempotency_key = None;
    small.images.truncate(1);
    store.put(&small).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// The id of the job the lag figure runs again.
const LAG_SEED: &str = "ffffffffffffffffffffffffffffffff";

/// `samples` GETs of `paths[i % len]`, in milliseconds; every answer must be 200.
async fn timed_gets(addr: &str, paths: &[String], samples: usize) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let path = &paths[i % paths.len()];
        let t0 = Instant::now();
        let (status, _, body) = request(addr, "GET", path, &[], "").await?;
        out.push(ms(t0.elapsed()));
        if status != 200 {
            bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
        }
    }
    Ok(out)
}

fn p95_figure(id: &str, label: &str, samples: &[f64], limit: f64, what: Value) -> Figure {
    Figure::new(id, label, quantile(samples, 0.95), "ms")
        .at_most(limit)
        .detail(
            json!({"samples": samples.len(), "p50": round(median(samples)),
            "p99": round(quantile(samples, 0.99)), "what": what}),
        )
}

pub async fn gallery(
    easel: &Path,
    opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let samples = if opts.quick { 100 } else { 1000 };
    let sandbox = Sandbox::new()?;
    seed_store(&sandbox)?;
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_millis(300),
        ..ModelScopeConfig::default()
    })
    .await?;
    let env = [
        ("MODELSCOPE_BASE_URL", sim.base_url()),
        ("MODELSCOPE_SDK_TOKEN", "ms-bench-token".to_owned()),
        // The backend is asked as often as the figure's resolution needs: this measures the
        // gallery's path, not ModelScope's poll schedule (docs/PERFORMANCE.md, section 4).
        ("EASEL_MODELSCOPE_POLL_INITIAL_MS", "10".to_owned()),
        ("EASEL_MODELSCOPE_POLL_MAX_MS", "10".to_owned()),
    ];
    let (mut child, addr) = http::start(easel, &sandbox, &[], &env).await?;

    // The index: the first page, a filtered page, a text search, a page deep in the store.
    let first = request(&addr, "GET", "/gallery/api/jobs", &[], "").await?;
    let page: Value = serde_json::from_slice(&first.2)?;
    let mut cursor = page["next"].as_str().unwrap_or_default().to_owned();
    for _ in 0..100 {
        let (_, _, body) = request(
            &addr,
            "GET",
            &format!("/gallery/api/jobs?cursor={cursor}"),
            &[],
            "",
        )
        .await?;
        let v: Value = serde_json::from_slice(&body)?;
        cursor = v["next"].as_str().unwrap_or_default().to_owned();
    }
    let paths = [
        "/gallery/api/jobs".to_owned(),
        "/gallery/api/jobs?status=failed".to_owned(),
        "/gallery/api/jobs?backend=comfyui&model=Qwen%2FQwen-Image".to_owned(),
        "/gallery/api/jobs?batch=night-7".to_owned(),
        "/gallery/api/jobs?q=variant+99".to_owned(),
        format!("/gallery/api/jobs?cursor={cursor}"),
    ];
    timed_gets(&addr, &paths, 30).await?;
    let first_page = timed_gets(&addr, &paths[..1], samples).await?;
    emit(p95_figure(
        "gallery.index.p95",
        "gallery index: first page of 40 cards, 10,000 jobs / 50,000 images, p95",
        &first_page,
        30.0,
        json!("GET /gallery/api/jobs (the page's first request), loopback round trip with connect"),
    ));
    let mixed = timed_gets(&addr, &paths, samples).await?;
    emit(p95_figure(
        "gallery.index_filtered.p95",
        "gallery index: filters, text search, page 100, p95",
        &mixed,
        30.0,
        json!({"paths": paths}),
    ));

    // The page's weight without images: the HTML, its script and style, the first page.
    let mut weight = 0usize;
    let mut parts = serde_json::Map::new();
    for path in [
        "/",
        "/gallery/app.js",
        "/gallery/app.css",
        "/gallery/api/session",
        "/gallery/api/facets",
        "/gallery/api/jobs",
    ] {
        let (status, _, body) = request(&addr, "GET", path, &[], "").await?;
        if status != 200 {
            bail!("GET {path}: {status}");
        }
        weight += body.len();
        parts.insert(path.to_owned(), json!(body.len()));
    }
    emit(
        Figure::new(
            "gallery.page_weight",
            "gallery page weight without images",
            weight as f64 / 1024.0,
            "KiB",
        )
        .at_most(300.0)
        .detail(
            json!({"bytes": parts, "note": "uncompressed; the assets as built into this easel"}),
        ),
    );

    // Thumbnails: each of the newest jobs' images made once, then read from disk.
    let thumbs: Vec<String> = (STORE_JOBS - WITH_FILES..STORE_JOBS)
        .flat_map(|i| (0..IMAGES_PER_JOB).map(move |n| format!("/gallery/thumb/{i:032x}/{n}")))
        .collect();
    let made_at = Instant::now();
    timed_gets(&addr, &thumbs, thumbs.len()).await?;
    let making = ms(made_at.elapsed()) / thumbs.len() as f64;
    let cached = timed_gets(&addr, &thumbs, samples).await?;
    emit(p95_figure(
        "gallery.thumb_cached.p95",
        "cached thumbnail request, p95",
        &cached,
        2.0,
        json!({"thumbnails": thumbs.len(), "first_request_mean_ms": round(making),
               "source": "1024x1024 PNG, thumbnail 512x512 JPEG"}),
    ));

    // Progress lag: the backend's task turns done; how long until the page's stream says so.
    let lags = progress_lag(&addr, &sim, if opts.quick { 5 } else { 20 }).await?;
    emit(p95_figure(
        "gallery.progress_lag.p95",
        "backend change → gallery event, p95",
        &lags,
        250.0,
        json!(
            "ModelScope simulator marks the task done → the `job` event with the finished card arrives on /gallery/events (easel polls every 10 ms, downloads and saves the 64x64 image)"
        ),
    ));
    let _ = child.start_kill();
    let _ = child.wait().await;
    Ok(())
}

/// Runs `jobs` generations one after another through the gallery's "run again" and times,
/// for each, the simulator's moment of completion to the event that reports it.
async fn progress_lag(addr: &str, sim: &ModelScopeSim, jobs: usize) -> anyhow::Result<Vec<f64>> {
    let origin = format!("http://{addr}");
    let (_, _, session) = request(addr, "GET", "/gallery/api/session", &[], "").await?;
    let csrf = serde_json::from_slice::<Value>(&session)?["csrf"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut events = TcpStream::connect(addr).await?;
    events
        .write_all(format!("GET /gallery/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut reader = BufReader::new(events);
    let mut lags = Vec::new();
    let seed = LAG_SEED;
    for _ in 0..jobs {
        let (status, _, body) = request(
            addr,
            "POST",
            &format!("/gallery/api/jobs/{seed}/again"),
            &[
                ("origin", &origin),
                ("x-easel-csrf", &csrf),
                ("content-type", "application/json"),
            ],
            "{\"variation\":true}",
        )
        .await?;
        if status != 200 {
            bail!("run again: {status} {}", String::from_utf8_lossy(&body));
        }
        let id = serde_json::from_slice::<Value>(&body)?["job"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let seen = loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(60), reader.read_line(&mut line))
                .await
                .context("no event in time")??;
            if n == 0 {
                bail!("the event stream closed");
            }
            if line.contains(&format!("\"id\":\"{id}\""))
                && line.contains("\"status\":\"succeeded\"")
            {
                break Instant::now();
            }
        };
        let task = sim
            .requests()
            .iter()
            .rev()
            .find_map(|r| r.path.strip_prefix("/v1/tasks/").map(str::to_owned))
            .context("no poll of the task")?;
        let done = sim.mark_done_at(&task).context("the task is not done")?;
        lags.push(ms(seen.saturating_duration_since(done)));
    }
    Ok(lags)
}
