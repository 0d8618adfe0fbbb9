//! A faithful fake of xiaohongshu-mcp's REST API (`github.com/xpzouying/xiaohongshu-mcp`),
//! written from `docs/contracts/xiaohongshu-mcp.md` (section 10 is its spec).
//!
//! It serves `/health` and the `/api/v1` login, publish and profile routes over real
//! HTTP, with the service's exact bodies, Chinese texts, codes and order of checks, so
//! production code talks to it as to `http://localhost:18060`: only the base URL
//! differs. No browser is involved: the steps that drive the website are simulated by
//! the knobs of [`XhsConfig`].
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use easel_sim::{XhsConfig, XhsSim};
//! let sim = XhsSim::start(XhsConfig::default()).await?;
//! let url = format!("{}/api/v1/publish", sim.base_url());
//! # let _ = url;
//! # Ok(()) }
//! ```

mod bind;
mod config;
mod download;
mod gojson;
mod login;
mod profile;
mod publish;
mod routes;
mod schedule;
mod state;
mod title;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::sync::oneshot;

pub use crate::record::RecordedRequest;
pub use config::XhsConfig;

use state::Shared;

/// A running simulator. The server lives in a tokio task; this handle reads and steers
/// it, and stops it when dropped (or on [`shutdown`](Self::shutdown)).
#[derive(Debug)]
pub struct XhsSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl XhsSim {
    /// Starts a simulator on a free port of 127.0.0.1, so tests can run side by side.
    pub async fn start(config: XhsConfig) -> anyhow::Result<XhsSim> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a simulator on `addr` (port 0 picks a free one; the real service listens
    /// on 18060).
    pub async fn start_on(addr: SocketAddr, config: XhsConfig) -> anyhow::Result<XhsSim> {
        let bound = crate::serve::bind(addr, "xiaohongshu-mcp simulator").await?;
        let addr = bound.addr;
        let shared = Arc::new(Shared::new(config));
        let app = routes::app(shared.clone());
        let stop = crate::serve::spawn(bound, app, "xiaohongshu-mcp simulator");
        Ok(XhsSim {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash; routes are this plus
    /// `/api/v1/…` or `/health`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes knobs while running; later requests see them.
    pub fn update(&self, f: impl FnOnce(&mut XhsConfig)) {
        self.shared.update(f);
    }

    /// Every request received on any path, in arrival order, JSON bodies parsed.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Every accepted publish, in order: the bound request fields (`title`, `content`,
    /// `images`, `tags`, `schedule_at`, `is_original`, `visibility`, `products`; Go zero
    /// values when absent) plus `resolved_images` (`[{"source", "kind": "url"|"path",
    /// "exists", "bytes", "format"}]`: what each entry turned into; missing local files
    /// have `exists: false` and were skipped), `tags_used` (leading `#` stripped, first
    /// 10), `note_id` and `published_at` (Unix seconds).
    pub fn published(&self) -> Vec<serde_json::Value> {
        self.shared.published()
    }

    /// Simulates scanning the login QR code with the app: the account is logged in.
    pub fn scan(&self) {
        self.shared.update(|c| c.logged_in = true);
    }

    /// Stops accepting connections, releases hung publishes and lets open connections
    /// finish. Dropping the handle does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for XhsSim {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
