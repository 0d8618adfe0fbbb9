//! Shared test harness: a ModelScope simulator, an easel configured against it, and a real
//! rmcp client talking MCP to easel (in-process over a byte stream, or to the binary).
#![allow(dead_code)]

pub mod pg;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use easel::config::Config;
use easel_sim::{ComfyConfig, ComfySim, ModelScopeConfig, ModelScopeSim};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ClientRequest,
    NumberOrString, ProgressNotificationParam, ProgressToken, ProtocolVersion, Request,
    RequestMetaObject, ServerResult,
};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};

/// Records progress notifications in arrival order; `tasks` declares the MCP tasks
/// extension (SEP-2663) in the client's capabilities.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    /// The protocol version `initialize` asks for; rmcp's default (its latest) when `None`.
    pub speaks: Option<ProtocolVersion>,
    /// Declare the MCP tasks extension.
    pub tasks: bool,
}

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        if self.tasks {
            info.capabilities = ClientCapabilities::builder().enable_tasks().build();
        }
        match &self.speaks {
            Some(version) => info.with_protocol_version(version.clone()),
            None => info,
        }
    }

    async fn on_progress(&self, p: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        if let Ok(mut v) = self.progress.lock() {
            v.push(p);
        }
    }
}

impl Recorder {
    /// A recorder whose `initialize` asks for `version`.
    pub fn speaking(version: ProtocolVersion) -> Recorder {
        Recorder {
            speaks: Some(version),
            ..Recorder::default()
        }
    }

    /// A recorder that declares the MCP tasks extension.
    pub fn declaring_tasks() -> Recorder {
        Recorder {
            tasks: true,
            ..Recorder::default()
        }
    }

    pub fn seen(&self) -> Vec<ProgressNotificationParam> {
        self.progress.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

pub struct Harness {
    pub sim: ModelScopeSim,
    pub dir: tempfile::TempDir,
    pub client: RunningService<RoleClient, Recorder>,
    pub recorder: Recorder,
    pub config: Config,
}

/// Fast polling and retries so tests take milliseconds; `extra` adds env overrides.
pub fn test_env(
    sim: &ModelScopeSim,
    out: &Path,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("EASEL_OUTPUT_DIR", out.display().to_string()),
        (
            "EASEL_DATA_DIR",
            out.with_file_name("data").display().to_string(),
        ),
        ("MODELSCOPE_BASE_URL", sim.base_url()),
        ("MODELSCOPE_SDK_TOKEN", "ms-test-token".to_string()),
        ("EASEL_MODELSCOPE_POLL_INITIAL_MS", "5".to_string()),
        ("EASEL_MODELSCOPE_POLL_MAX_MS", "20".to_string()),
        ("EASEL_MODELSCOPE_RETRY_BASE_MS", "5".to_string()),
        // These clients cannot answer a confirmation form: tests run unattended, and
        // tests/confirm.rs turns asking back on.
        ("EASEL_CONFIRM", "false".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        if v.is_empty() {
            env.remove(*k);
        } else {
            env.insert(k.to_string(), v.to_string());
        }
    }
    env
}

pub fn config(dir: &Path, env: &HashMap<String, String>) -> Config {
    let file = dir.join("easel.toml");
    std::fs::write(&file, "").expect("write config");
    Config::load_with(Some(&file), &|k| env.get(k).cloned()).expect("config")
}

pub async fn start(sim_config: ModelScopeConfig, extra_env: &[(&str, &str)]) -> Harness {
    easel::logging::install_tls_provider();
    let sim = ModelScopeSim::start(sim_config).await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, extra_env);
    let config = config(dir.path(), &env);
    let (client, recorder) = serve(&config).await;
    Harness {
        sim,
        dir,
        client,
        recorder,
        config,
    }
}

impl Harness {
    pub fn out(&self) -> PathBuf {
        self.config.output_dir.clone()
    }

    /// Calls a tool with a progress token, returning the raw result.
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        call(&self.client, tool, args).await
    }

    /// Every file under the output root (recursively), excluding easel's data folder.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.out(), &mut out);
        out.retain(|p| !p.components().any(|c| c.as_os_str() == ".data"));
        out.sort();
        out
    }
}

pub async fn call<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_string());
    params.arguments = args.as_object().cloned();
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::String(format!("t-{tool}").into()),
    )));
    let answer = client
        .send_request(ClientRequest::CallToolRequest(Request::new(params)))
        .await
        .expect("tools/call answered");
    match answer {
        ServerResult::CallToolResult(r) => r,
        other => panic!("unexpected answer {other:?}"),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn structured(r: &CallToolResult) -> Value {
    r.structured_content.clone().expect("structured content")
}

pub fn is_error(r: &CallToolResult) -> bool {
    r.is_error == Some(true)
}

/// The fields of a quick generate call, plus `extra`.
pub fn gen_args(extra: Value) -> Value {
    let mut base = json!({"prompt": "a golden cat in a garden", "size": "256x256", "seed": 42});
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// easel against a ComfyUI simulator, with a workflows folder the test can write to.
pub struct ComfyHarness {
    pub sim: ComfySim,
    pub dir: tempfile::TempDir,
    pub client: RunningService<RoleClient, Recorder>,
    pub recorder: Recorder,
    pub config: Config,
}

pub fn comfy_env(sim: &ComfySim, dir: &Path, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("EASEL_OUTPUT_DIR", dir.join("out").display().to_string()),
        ("EASEL_DATA_DIR", dir.join("data").display().to_string()),
        (
            "EASEL_WORKFLOWS_DIR",
            dir.join("workflows").display().to_string(),
        ),
        ("COMFYUI_URL", sim.base_url()),
        ("EASEL_COMFYUI_POLL_MS", "50".to_string()),
        ("EASEL_DEFAULT_BACKEND", "comfyui".to_string()),
        ("EASEL_CONFIRM", "false".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

pub async fn start_comfy(sim_config: ComfyConfig, extra_env: &[(&str, &str)]) -> ComfyHarness {
    easel::logging::install_tls_provider();
    let sim = ComfySim::start(sim_config).await.expect("comfy sim");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("workflows")).expect("workflows dir");
    let env = comfy_env(&sim, dir.path(), extra_env);
    let config = config(dir.path(), &env);
    let (client, recorder) = serve(&config).await;
    ComfyHarness {
        sim,
        dir,
        client,
        recorder,
        config,
    }
}

impl ComfyHarness {
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        call(&self.client, tool, args).await
    }

    pub fn out(&self) -> PathBuf {
        self.config.output_dir.clone()
    }

    pub fn workflows(&self) -> PathBuf {
        self.config.comfyui.workflows_dir.clone()
    }

    /// Every saved file under the output root.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.out(), &mut out);
        out.sort();
        out
    }

    /// The last graph ComfyUI accepted.
    pub fn last_graph(&self) -> Value {
        self.sim.prompts().last().expect("a prompt was posted")["prompt"].clone()
    }
}

/// Nodes of `graph` with class `class`, as (id, node).
pub fn nodes_of(graph: &Value, class: &str) -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = graph
        .as_object()
        .expect("graph object")
        .iter()
        .filter(|(_, n)| n["class_type"] == class)
        .map(|(id, n)| (id.clone(), n.clone()))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// easel configured by a TOML file (test folders and fast polling come from the
/// environment), served to a real MCP client: for ComfyUI pools, whose simulators the test
/// owns so it can stop and restart them.
pub struct Easel {
    pub dir: tempfile::TempDir,
    pub client: RunningService<RoleClient, Recorder>,
    pub recorder: Recorder,
    pub config: Config,
}

pub async fn start_easel(toml: &str, extra_env: &[(&str, &str)]) -> Easel {
    easel::logging::install_tls_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("workflows")).expect("workflows dir");
    let mut env: HashMap<String, String> = [
        ("EASEL_OUTPUT_DIR", dir.path().join("out")),
        ("EASEL_DATA_DIR", dir.path().join("data")),
        ("EASEL_WORKFLOWS_DIR", dir.path().join("workflows")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.display().to_string()))
    .collect();
    env.insert("EASEL_COMFYUI_POLL_MS".into(), "50".into());
    env.insert("EASEL_DEFAULT_BACKEND".into(), "comfyui".into());
    env.insert("EASEL_CONFIRM".into(), "false".into());
    for (k, v) in extra_env {
        env.insert(k.to_string(), v.to_string());
    }
    let file = dir.path().join("easel.toml");
    std::fs::write(&file, toml).expect("write config");
    let config = Config::load_with(Some(&file), &|k| env.get(k).cloned()).expect("config");
    let (client, recorder) = serve(&config).await;
    Easel {
        dir,
        client,
        recorder,
        config,
    }
}

impl Easel {
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        call(&self.client, tool, args).await
    }
}

/// Builds easel from `config` (durable job store, background work started) and connects a
/// recording rmcp client to its MCP server over an in-memory pipe.
pub async fn serve(config: &Config) -> (RunningService<RoleClient, Recorder>, Recorder) {
    serve_as(config, Recorder::default()).await
}

/// [`serve`] with a given client (e.g. one declaring tasks).
pub async fn serve_as(
    config: &Config,
    recorder: Recorder,
) -> (RunningService<RoleClient, Recorder>, Recorder) {
    let client = serve_with(config, recorder.clone()).await;
    (client, recorder)
}

/// easel built from `config`, in this process, serving MCP over an in-memory pipe to a
/// client with `handler` (a recorder, an MCP Apps host, ...).
pub async fn serve_with<H: ClientHandler>(
    config: &Config,
    handler: H,
) -> RunningService<RoleClient, H> {
    let app = easel::app::build(config, easel::app::Storage::Durable).expect("app");
    app.jobs.start_background(true);
    let server = app.server(config);
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    handler.serve(client_io).await.expect("client")
}

/// The easel binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_easel");

/// The easel binary serving stdio to `handler`, and its process id (to kill it).
pub struct ServedBinary<H: ClientHandler> {
    pub client: RunningService<RoleClient, H>,
    pub pid: u32,
}

/// Spawns `easel --config <dir>/easel.toml serve` (an empty config file) with exactly `env`,
/// stderr discarded, and initializes an MCP session with `handler`.
pub async fn serve_binary<H: ClientHandler>(
    dir: &Path,
    env: &HashMap<String, String>,
    handler: H,
) -> ServedBinary<H> {
    let cfg = dir.join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let (transport, _) =
        TokioChildProcess::builder(tokio::process::Command::new(BIN).configure(|c| {
            c.arg("--config")
                .arg(&cfg)
                .arg("serve")
                .env_clear()
                .envs(env);
        }))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = transport.id().expect("pid");
    let client = handler.serve(transport).await.expect("initialize");
    ServedBinary { client, pid }
}

/// SIGKILL: the process gets no chance to clean up.
/// Returns once the job reports "submitted" or later (its tickets are stored), so that a
/// kill after it tests recovery from a stored ticket rather than a lost submission. Polls
/// the job's own state, with a deadline.
pub async fn until_submitted<H: ClientHandler>(client: &RunningService<RoleClient, H>, id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let s = call(
            client,
            "get_job",
            json!({"job_id": id, "wait_seconds": 0, "preview": "none"}),
        )
        .await;
        if structured(&s)["progress"]["fraction"]
            .as_f64()
            .unwrap_or(0.0)
            >= 0.05
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "never submitted");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

pub fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Files under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
