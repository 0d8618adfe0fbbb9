//! A faithful fake of a local ComfyUI server (v0.27.0), written from
//! `docs/contracts/comfyui.md` (section 12 is its checklist) and checked against the
//! real capture `docs/contracts/comfyui-transcript.json`.
//!
//! It serves real HTTP and WebSocket on a local port so that production code talks to it
//! exactly as it talks to `http://127.0.0.1:8188`: only the base URL differs. Graphs are
//! validated like the real server does, jobs run one at a time with the real event
//! sequence, and saved images are real PNG files of the right size. Tests turn knobs in
//! [`ComfyConfig`] to provoke each documented behaviour (runtime errors, interrupts,
//! dropped or refused sockets, slow samplers, missing nodes, …) and read back what the
//! client sent.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use easel_sim::{ComfyConfig, ComfySim};
//! let sim = ComfySim::start(ComfyConfig::default()).await?;
//! let prompt_url = format!("{}/prompt", sim.base_url());
//! let ws_url = format!("ws://{}/ws?clientId=me", sim.addr());
//! # let _ = (prompt_url, ws_url);
//! # Ok(()) }
//! ```

mod animate;
mod cache;
mod config;
mod exec;
mod files;
mod guard;
mod json;
mod nodes;
mod prompt;
mod queue;
mod registry;
mod routes;
mod state;
mod traceback;
mod transfer;
mod validate;
mod wire;
mod ws;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::record::RecordedRequest;
pub use config::ComfyConfig;

use state::Shared;

/// A running simulator. The server and its worker live in tokio tasks; this handle reads
/// and steers them, and stops them when dropped (or on [`shutdown`](Self::shutdown)).
#[derive(Debug)]
pub struct ComfySim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    worker: JoinHandle<()>,
}

impl ComfySim {
    /// Starts a simulator on a free port of 127.0.0.1, so tests can run side by side.
    pub async fn start(config: ComfyConfig) -> anyhow::Result<ComfySim> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a simulator on `addr` (port 0 picks a free one), for a simulator process
    /// that other programs reach at a known address.
    pub async fn start_on(addr: SocketAddr, config: ComfyConfig) -> anyhow::Result<ComfySim> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the ComfyUI simulator to {addr}"))?;
        let mut addr = listener.local_addr().context("reading the bound address")?;
        // A wildcard bind is reached through loopback.
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        let shared = Arc::new(Shared::new(config));
        let app = routes::app(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            // Small frames must not wait for Nagle: clients time completion detection.
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let closing = shared.clone();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                // A dropped sender stops the server too.
                let _ = stopped.await;
                // Open WebSockets would hold the graceful shutdown forever.
                closing.close();
            });
            if let Err(error) = server.await {
                tracing::error!(%error, "ComfyUI simulator stopped");
            }
        });
        let worker = tokio::spawn(exec::worker(shared.clone()));
        Ok(ComfySim {
            shared,
            addr,
            stop: Some(stop),
            worker,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash, as ComfyUI URLs are usually
    /// written; routes are this plus `/prompt`, `/api/prompt`, …
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the simulator listens on (`ws://{addr}/ws?clientId=…`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes knobs while running, and wakes the worker (clearing `paused` starts the
    /// queued jobs).
    pub fn update(&self, f: impl FnOnce(&mut ComfyConfig)) {
        self.shared.update(f);
    }

    /// Every request received on any path (WebSocket upgrades included), in arrival
    /// order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Every accepted `POST /prompt` body, in order, as sent, so tests can check the
    /// values a client injected into a workflow.
    pub fn prompts(&self) -> Vec<serde_json::Value> {
        self.shared.prompts()
    }

    /// Jobs that actually ran at least one node (not served wholly from cache).
    pub fn executions(&self) -> usize {
        self.shared.executions()
    }

    /// Jobs pending plus running (`queue_remaining`).
    pub fn queue_len(&self) -> usize {
        self.shared.queue_remaining()
    }

    /// WebSocket upgrades accepted so far, to check that a client reconnects (or does
    /// not).
    pub fn ws_connections(&self) -> usize {
        self.shared.ws_connections()
    }

    /// The name each `/upload/image` answered, as LoadImage refers to it
    /// (`"sub/name.png"`), in order.
    pub fn uploads(&self) -> Vec<String> {
        self.shared.uploads()
    }

    /// Stops accepting connections, closes open WebSockets and stops the worker.
    /// Dropping the handle does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for ComfySim {
    fn drop(&mut self) {
        self.shared.close();
        self.worker.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
