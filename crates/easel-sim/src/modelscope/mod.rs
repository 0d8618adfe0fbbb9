//! A faithful fake of ModelScope's asynchronous image-generation API, written from
//! `docs/contracts/modelscope.md` (section 12 is its spec).
//!
//! It serves real HTTP on a local port so that production code talks to it exactly as it
//! talks to `https://api-inference.modelscope.cn/`: only the base URL differs. Tests turn
//! knobs in [`ModelScopeConfig`] to provoke each documented behaviour (auth failures,
//! quotas, failed tasks, broken downloads, …) and read back what the client sent.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use easel_sim::{ModelScopeConfig, ModelScopeSim};
//! let sim = ModelScopeSim::start(ModelScopeConfig::default()).await?;
//! let submit_url = format!("{}v1/images/generations", sim.base_url());
//! # let _ = submit_url;
//! # Ok(()) }
//! ```

mod auth;
mod config;
mod download;
mod images;
mod params;
mod poll;
mod record;
mod routes;
mod state;
mod submit;
mod task;
mod wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::sync::oneshot;

pub use crate::record::RecordedRequest;
pub use config::ModelScopeConfig;

use state::Shared;

/// A running simulator. The server lives in a tokio task; this handle reads and steers
/// it, and stops it when dropped (or on [`shutdown`](Self::shutdown)).
#[derive(Debug)]
pub struct ModelScopeSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl ModelScopeSim {
    /// Starts a simulator on a free port of 127.0.0.1, so tests can run side by side.
    pub async fn start(config: ModelScopeConfig) -> anyhow::Result<ModelScopeSim> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a simulator on `addr` (port 0 picks a free one), for a simulator process
    /// that other programs reach at a known address.
    pub async fn start_on(
        addr: SocketAddr,
        config: ModelScopeConfig,
    ) -> anyhow::Result<ModelScopeSim> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the ModelScope simulator to {addr}"))?;
        let mut addr = listener.local_addr().context("reading the bound address")?;
        // A wildcard bind is reached through loopback.
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        let shared = Arc::new(Shared::new(format!("http://{addr}/"), config));
        let app = routes::app(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            // Small answers must not wait for Nagle: benchmarks time completion detection.
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            });
            if let Err(error) = server.await {
                tracing::error!(%error, "ModelScope simulator stopped");
            }
        });
        Ok(ModelScopeSim {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT/`, with the trailing slash: the real base URL has one, and
    /// API paths are this plus `v1/…` (contract 1).
    pub fn base_url(&self) -> String {
        self.shared.base_url().to_owned()
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes knobs while running; later requests (and tasks submitted later) see them.
    pub fn update(&self, f: impl FnOnce(&mut ModelScopeConfig)) {
        self.shared.update(f);
    }

    /// Every request received on any path, in arrival order (empty when
    /// `record_requests` is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// How many submits were accepted (tasks created), to check that a client did not
    /// pay for a generation twice.
    pub fn submissions(&self) -> usize {
        self.shared.submissions()
    }

    /// How many polls of `task_id` were answered with the task's status (not 401, 404 or
    /// injected 500), to check a client's polling cadence.
    pub fn polls(&self, task_id: &str) -> usize {
        self.shared.polls(task_id)
    }

    /// When `task_id` became terminal, i.e. the earliest moment a poll would have seen
    /// `SUCCEED`/`FAILED`; `None` while it is still in progress. Benchmarks subtract this
    /// from the moment the client noticed to measure completion-detection delay.
    pub fn mark_done_at(&self, task_id: &str) -> Option<Instant> {
        self.shared.done_at(task_id)
    }

    /// Stops accepting connections and lets open ones finish. Dropping the handle does
    /// the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for ModelScopeSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
