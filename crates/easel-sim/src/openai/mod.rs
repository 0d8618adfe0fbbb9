//! A faithful fake of OpenAI's image API and of the "compatible" providers that imitate
//! it, written from `docs/contracts/openai-images.md` (section 9 is its spec).
//!
//! It serves `POST /v1/images/generations` and `POST /v1/images/edits` over real HTTP on
//! a local port, so production code talks to it exactly as it talks to
//! `https://api.openai.com/v1`: only the base URL differs. [`ProviderMode`] switches
//! between OpenAI, SiliconFlow and a new-api style relay; the knobs in
//! [`OpenAiConfig`] provoke the documented failures.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use easel_sim::{OpenAiConfig, OpenAiSim};
//! let sim = OpenAiSim::start(OpenAiConfig::default()).await?;
//! let url = format!("{}/images/generations", sim.base_url());
//! # let _ = url;
//! # Ok(()) }
//! ```

mod admit;
mod answer;
mod config;
mod edits;
mod fields;
mod form;
mod generate;
mod models;
mod render;
mod request;
mod routes;
mod siliconflow;
mod state;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::sync::oneshot;

pub use crate::record::RecordedRequest;
pub use config::{OpenAiConfig, ProviderMode};

use state::Shared;

/// A running simulator. The server lives in a tokio task; this handle reads and steers
/// it, and stops it when dropped (or on [`shutdown`](Self::shutdown)).
#[derive(Debug)]
pub struct OpenAiSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl OpenAiSim {
    /// Starts a simulator on a free port of 127.0.0.1, so tests can run side by side.
    pub async fn start(config: OpenAiConfig) -> anyhow::Result<OpenAiSim> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a simulator on `addr` (port 0 picks a free one).
    pub async fn start_on(addr: SocketAddr, config: OpenAiConfig) -> anyhow::Result<OpenAiSim> {
        let bound = crate::serve::bind(addr, "OpenAI simulator").await?;
        let addr = bound.addr;
        let shared = Arc::new(Shared::new(format!("http://{addr}"), config));
        let stop = crate::serve::spawn(bound, routes::app(shared.clone()), "OpenAI simulator");
        Ok(OpenAiSim {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT/v1`, without a trailing slash: clients append
    /// `/images/generations` (contract 1).
    pub fn base_url(&self) -> String {
        self.shared.base_url()
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes knobs while running; later requests see them.
    pub fn update(&self, f: impl FnOnce(&mut OpenAiConfig)) {
        self.shared.update(f);
    }

    /// Every request received on any path, in arrival order. JSON bodies are parsed;
    /// multipart bodies are described as `{"parts": [{"name", "filename",
    /// "content_type", "text"}` for text parts, `"bytes"` (length) and, for decodable
    /// images, `"width"`/`"height"` for files`]}`.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Stops accepting connections and lets open ones finish. Dropping the handle does
    /// the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for OpenAiSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
