//! A release `easel serve` as a child process, launched the way MCP clients launch it, and
//! an rmcp client session over its stdio.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, NumberOrString,
    ProgressNotificationParam, ProgressToken, Request, RequestMetaObject, ServerResult,
};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ServiceExt as _};
use serde_json::Value;
use tokio::process::Command;

use crate::procfs;

/// Longest a launch may take to answer `initialize`.
const START_LIMIT: Duration = Duration::from_secs(30);

/// `--env` additions, applied to every launch after the benchmark's own settings.
static EXTRA_ENV: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();

pub fn set_extra_env(env: Vec<(String, String)>) {
    let _ = EXTRA_ENV.set(env);
}

/// Counts progress notifications (easel sends them because every call carries a token).
#[derive(Clone, Default)]
pub struct Counter {
    pub progress: Arc<AtomicU64>,
}

impl ClientHandler for Counter {
    async fn on_progress(&self, _: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        self.progress.fetch_add(1, Ordering::Relaxed);
    }
}

/// The command that builds the binary measured by default: the `dist` profile, which is
/// what the README's `cargo install` builds.
const BUILD: &str = "cargo build --locked --profile dist -p easel";

/// Which easel to measure: `--easel PATH`, else `target/dist/easel` (what users install),
/// else the release `easel` beside this program.
pub fn locate_easel(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match explicit {
        Some(p) => p,
        None => {
            let beside = std::env::current_exe()
                .context("finding this program's path")?
                .with_file_name("easel");
            let dist = beside
                .parent()
                .and_then(Path::parent)
                .map(|target| target.join("dist").join("easel"));
            match dist {
                Some(dist) if dist.is_file() => dist,
                _ => beside,
            }
        }
    };
    if !path.is_file() {
        bail!(
            "no easel binary at {}. Build it first with `{BUILD}` (or pass --easel PATH).",
            path.display()
        );
    }
    if let Some(newer) = newer_source(&path) {
        eprintln!(
            "warning: {} is older than {}; run `{BUILD}` to measure the current code.",
            path.display(),
            newer.display()
        );
    }
    Ok(path)
}

/// A file of easel's sources (in this checkout) modified after `binary` was built, if any.
fn newer_source(binary: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../easel/src");
    let mut stack = vec![src];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            seen += 1;
            if seen > 10_000 {
                return None;
            }
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.modified().is_ok_and(|m| m > built) {
                return Some(path);
            }
        }
    }
    None
}

/// A temporary home for one easel process: empty config file, output root, data dir,
/// workflows folder. Removed when dropped.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> anyhow::Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("easel-bench-")
            .tempdir()
            .context("creating a temp dir")?;
        for sub in ["out", "data", "workflows", "home"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        std::fs::write(dir.path().join("easel.toml"), "")?;
        Ok(Sandbox { dir })
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("easel.toml")
    }

    /// The environment of a client launch: nothing inherited from the caller's shell (so a
    /// real token or ComfyUI URL cannot leak in), only the temp folders plus `extra`.
    pub fn env(&self, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let p = |s: &str| self.dir.path().join(s).display().to_string();
        let mut env = vec![
            ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".to_owned(), p("home")),
            ("EASEL_OUTPUT_DIR".to_owned(), p("out")),
            ("EASEL_DATA_DIR".to_owned(), p("data")),
            ("EASEL_WORKFLOWS_DIR".to_owned(), p("workflows")),
        ];
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        env.extend(EXTRA_ENV.get().into_iter().flatten().cloned());
        env
    }
}

/// One running `easel serve` and the MCP session to it.
pub struct Session {
    pub client: RunningService<RoleClient, Counter>,
    pub pid: u32,
    pub counter: Counter,
}

impl Session {
    /// Spawns `easel --config <sandbox>/easel.toml serve` and initializes MCP.
    pub async fn start(
        easel: &Path,
        sandbox: &Sandbox,
        extra_env: &[(&str, String)],
    ) -> anyhow::Result<Session> {
        let mut cmd = Command::new(easel);
        cmd.arg("--config").arg(sandbox.config()).arg("serve");
        cmd.env_clear();
        cmd.envs(sandbox.env(extra_env));
        let (transport, _) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", easel.display()))?;
        let pid = transport.id().context("the child has no pid")?;
        let counter = Counter::default();
        let client = tokio::time::timeout(START_LIMIT, counter.clone().serve(transport))
            .await
            .context("easel did not answer initialize in time")?
            .context("MCP initialize with easel")?;
        Ok(Session {
            client,
            pid,
            counter,
        })
    }

    /// Calls a tool with a progress token, as clients that show progress do.
    pub async fn call(
        &self,
        tool: &str,
        args: Value,
        token: &str,
    ) -> anyhow::Result<CallToolResult> {
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = args.as_object().cloned();
        params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
            NumberOrString::String(token.to_owned().into()),
        )));
        let answer = self
            .client
            .send_request(ClientRequest::CallToolRequest(Request::new(params)))
            .await
            .context("tools/call")?;
        match answer {
            ServerResult::CallToolResult(r) => Ok(r),
            other => bail!("unexpected answer to tools/call: {other:?}"),
        }
    }

    /// Closes stdin (the MCP way to end a stdio server) and waits up to 5 s for the
    /// process to go away.
    pub async fn stop(self) {
        let pid = self.pid;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.cancel()).await;
        let until = Instant::now() + Duration::from_secs(5);
        while procfs::alive(pid) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// What a finished generate call says about itself.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub ok: bool,
    pub status: String,
    /// Milliseconds since the epoch when easel marked the job finished (after saving).
    pub finished_at_ms: Option<u64>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn of(r: &CallToolResult) -> Outcome {
        let s = r.structured_content.clone().unwrap_or(Value::Null);
        let status = s["status"].as_str().unwrap_or("").to_owned();
        let ok = r.is_error != Some(true) && status == "succeeded";
        let error = (!ok).then(|| {
            r.content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(300)
                .collect()
        });
        Outcome {
            ok,
            status,
            finished_at_ms: s["timings"]["finished_at_ms"].as_u64(),
            error,
        }
    }
}

pub fn epoch_ms_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
