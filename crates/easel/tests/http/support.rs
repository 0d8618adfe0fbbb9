//! An easel HTTP server in-process (or the spawned binary), raw HTTP helpers, and a small
//! SSE reader for the legacy transport.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use easel_sim::{ModelScopeConfig, ModelScopeSim};
use futures::StreamExt;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::common::{self, Recorder};

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub use crate::common::{BIN, files_under};
pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";

/// Polls `check` until it returns `Some`, failing after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn http() -> reqwest::Client {
    easel::logging::install_tls_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

pub fn initialize_body() -> Value {
    initialize_body_for("2025-06-18")
}

/// An `initialize` request asking for protocol `version`.
pub fn initialize_body_for(version: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "easel-test", "version": "0"}
        }
    })
}

/// An easel serving HTTP in this process, against its own ModelScope simulator.
pub struct Served {
    pub sim: ModelScopeSim,
    /// Output and data dirs; removed when the test ends.
    _dir: tempfile::TempDir,
    pub base: String,
    pub shutdown: CancellationToken,
}

impl Served {
    pub async fn start(sim_config: ModelScopeConfig, extra_env: &[(&str, &str)]) -> Served {
        easel::logging::install_tls_provider();
        let sim = ModelScopeSim::start(sim_config).await.expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let env = common::test_env(&sim, &dir.path().join("out"), extra_env);
        let config = common::config(dir.path(), &env);
        let app = easel::app::build(&config, easel::app::Storage::Durable).expect("app");
        app.jobs.start_background(true);
        let server = app.server(&config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let app = easel::serve::http::app(server, &config.http, addr, shutdown.clone());
        let connections =
            easel::serve::conn::Connections::new(&config.http, config.http.max_connections);
        tokio::spawn(easel::serve::http::serve(
            listener,
            app,
            connections,
            shutdown.clone(),
            Duration::from_secs(2),
        ));
        Served {
            sim,
            _dir: dir,
            base: format!("http://{addr}"),
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn health(&self) -> Value {
        http()
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .json()
            .await
            .expect("healthz json")
    }

    /// Waits until `/healthz` reports `field == n`.
    pub async fn wait_health(&self, field: &str, n: u64) {
        eventually(10, &format!("{field} == {n}"), || async {
            (self.health().await[field].as_u64() == Some(n)).then_some(())
        })
        .await
    }

    pub async fn rmcp_client(&self, token: Option<&str>) -> RunningService<RoleClient, Recorder> {
        rmcp_client(&self.url("/mcp"), token).await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// rmcp's own Streamable HTTP client, with a progress recorder.
pub async fn rmcp_client(url: &str, token: Option<&str>) -> RunningService<RoleClient, Recorder> {
    rmcp_client_with(
        url,
        token,
        Recorder::default(),
        ClientLifecycleMode::Initialize,
    )
    .await
}

/// rmcp's Streamable HTTP client with the given handler and lifecycle (`initialize` with
/// the recorder's version, or `server/discover` for 2026-07-28).
pub async fn rmcp_client_with(
    url: &str,
    token: Option<&str>,
    recorder: Recorder,
    lifecycle: ClientLifecycleMode,
) -> RunningService<RoleClient, Recorder> {
    easel::logging::install_tls_provider();
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    if let Some(token) = token {
        config = config.auth_header(token.to_string());
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    recorder
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .expect("connect over HTTP")
}

/// POSTs an initialize to `/mcp` the way a client would.
pub async fn post_initialize(
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http()
        .post(url)
        .header("accept", ACCEPT_BOTH)
        .json(&initialize_body());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("POST /mcp")
}

/// One event of an SSE stream.
#[derive(Debug)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// A legacy-SSE client: the stream, and the endpoint it announced.
pub struct SseClient {
    events: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
    pub endpoint: String,
}

impl SseClient {
    pub async fn open(base: &str, token: Option<&str>) -> SseClient {
        let mut req = http().get(format!("{base}/sse"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("GET /sse");
        assert_eq!(resp.status(), 200, "GET /sse");
        let mut client = SseClient {
            events: resp.bytes_stream().boxed(),
            buf: String::new(),
            endpoint: String::new(),
        };
        let first = client.next_event().await;
        assert_eq!(first.event, "endpoint", "{first:?}");
        client.endpoint = format!("{base}{}", first.data);
        client
    }

    pub async fn next_event(&mut self) -> SseEvent {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_string();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return event;
                }
                continue; // a keep-alive comment
            }
            let chunk = tokio::time::timeout_at(deadline, self.events.next())
                .await
                .expect("an SSE event in time")
                .expect("stream open")
                .expect("stream chunk");
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// POSTs one JSON-RPC message to the announced endpoint.
    pub async fn post(&self, token: Option<&str>, message: &Value) -> reqwest::Response {
        let mut req = http().post(&self.endpoint).json(message);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("POST /messages")
    }

    /// Sends a request and returns the response with its id (notifications in between are
    /// skipped).
    pub async fn request(&mut self, token: Option<&str>, message: Value) -> Value {
        let id = message["id"].clone();
        let resp = self.post(token, &message).await;
        assert_eq!(
            resp.status(),
            202,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        loop {
            let e = self.next_event().await;
            let v: Value = serde_json::from_str(&e.data).expect("json event");
            if v["id"] == id && v.get("method").is_none() {
                return v;
            }
        }
    }

    /// POSTs a `tools/call` with progress token `progress`, and reads the stream until its
    /// answer: the answer's `result` and the progress notifications that came first.
    pub async fn call_with_progress(
        &mut self,
        token: Option<&str>,
        id: u64,
        tool: &str,
        arguments: Value,
        progress: &str,
    ) -> (Value, Vec<Value>) {
        let posted = self
            .post(
                token,
                &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                    "name": tool, "arguments": arguments,
                    "_meta": {"progressToken": progress}}}),
            )
            .await;
        assert_eq!(posted.status(), 202);
        let mut notes = Vec::new();
        loop {
            let e = self.next_event().await;
            let v: Value = serde_json::from_str(&e.data).expect("json event");
            if v["method"] == "notifications/progress" {
                assert_eq!(v["params"]["progressToken"], progress, "{v}");
                notes.push(v["params"].clone());
            } else if v["id"] == id && v.get("method").is_none() {
                return (v["result"].clone(), notes);
            }
        }
    }

    /// initialize + notifications/initialized.
    pub async fn handshake(&mut self, token: Option<&str>) {
        self.handshake_as(token, "2025-06-18").await;
    }

    /// initialize asking for protocol `version` + notifications/initialized; returns the
    /// initialize result.
    pub async fn handshake_as(&mut self, token: Option<&str>, version: &str) -> Value {
        let init = self.request(token, initialize_body_for(version)).await;
        assert!(init["result"]["serverInfo"]["name"] == "easel", "{init}");
        let resp = self
            .post(
                token,
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(resp.status(), 202);
        init["result"].clone()
    }
}

/// `easel serve --http ADDR` as a child process.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub base: String,
    pub stderr: tokio::task::JoinHandle<String>,
}

pub fn spawn_cmd(
    dir: &std::path::Path,
    env: &HashMap<String, String>,
    args: &[&str],
) -> tokio::process::Command {
    let cfg = dir.join("easel.toml");
    if !cfg.exists() {
        std::fs::write(&cfg, "").expect("cfg");
    }
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--config")
        .arg(&cfg)
        .arg("serve")
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

impl Spawned {
    /// Starts the binary and waits for the `easel http://ADDR` line on stdout.
    pub async fn start(
        dir: &std::path::Path,
        env: &HashMap<String, String>,
        args: &[&str],
    ) -> Spawned {
        Spawned::from_cmd(spawn_cmd(dir, env, args)).await
    }

    /// Starts a command made by [`spawn_cmd`] (and adjusted by the test).
    pub async fn from_cmd(mut cmd: tokio::process::Command) -> Spawned {
        let mut child = cmd.spawn().expect("spawn easel");
        let stderr = child.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("easel announced its address in time")
            .expect("read stdout")
            .expect("a line on stdout");
        let base = line
            .strip_prefix("easel ")
            .expect("`easel http://ADDR`")
            .to_string();
        Spawned {
            child,
            base,
            stderr,
        }
    }

    /// Sends SIGTERM and waits for the exit, failing after `secs`.
    #[cfg(unix)]
    pub async fn terminate(mut self, secs: u64) -> (std::process::ExitStatus, Duration, String) {
        let pid = self.child.id().expect("pid");
        let started = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(secs), self.child.wait())
            .await
            .expect("easel exits after SIGTERM in time")
            .expect("wait");
        let elapsed = started.elapsed();
        let stderr = self.stderr.await.unwrap_or_default();
        (exit, elapsed, stderr)
    }
}
