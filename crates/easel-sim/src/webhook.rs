//! A webhook receiver for testing easel's "webhook" publisher: it accepts
//! `POST /create` (the path of the prototype's receiver), keeps every JSON body, and
//! answers `200 {"success": true, "id": "<uuid>"}` unless told otherwise.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::record::{RecordedRequest, capture};

/// Largest body accepted (a publish may carry base64 images).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// How the sink answers. Change it with [`WebhookSink::update`].
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Status of every answer.
    pub status: u16,
    /// Body of every answer; `None` gives `{"success": true, "id": "<fresh uuid>"}` for a
    /// 2xx status and `{"success": false, "error": "<reason phrase>"}` otherwise.
    pub body: Option<Value>,
    /// Delay before answering, for client timeout tests.
    pub delay: Duration,
}

impl WebhookConfig {
    /// Answers `status` with the default bodies, at once.
    pub fn with_status(status: u16) -> WebhookConfig {
        WebhookConfig {
            status,
            body: None,
            delay: Duration::ZERO,
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self::with_status(200)
    }
}

#[derive(Debug)]
struct Shared {
    config: Mutex<WebhookConfig>,
    received: Mutex<Vec<RecordedRequest>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running sink; stops when dropped (or on [`shutdown`](Self::shutdown)).
#[derive(Debug)]
pub struct WebhookSink {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl WebhookSink {
    /// Starts a sink on a free port of 127.0.0.1 that answers with `status`.
    pub async fn start(status: u16) -> anyhow::Result<WebhookSink> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self::start_on(addr, WebhookConfig::with_status(status)).await
    }

    /// Starts a sink on `addr` (port 0 picks a free one).
    pub async fn start_on(addr: SocketAddr, config: WebhookConfig) -> anyhow::Result<WebhookSink> {
        let bound = crate::serve::bind(addr, "webhook sink").await?;
        let addr = bound.addr;
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/create", post(create))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(shared.clone());
        let stop = crate::serve::spawn(bound, app, "webhook sink");
        Ok(WebhookSink {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT/create`, the URL to configure in the publisher.
    pub fn url(&self) -> String {
        format!("http://{}/create", self.addr)
    }

    /// Every `POST /create` received, in order, JSON bodies parsed.
    pub fn received(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.received).clone()
    }

    /// Changes how later requests are answered.
    pub fn update(&self, f: impl FnOnce(&mut WebhookConfig)) {
        f(&mut lock(&self.shared.config));
    }

    /// Stops the sink. Dropping the handle does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `POST /create`: records, waits, answers.
async fn create(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let recorded = match capture(request, BODY_LIMIT).await {
        Ok((recorded, _)) => recorded,
        Err(too_large) => return too_large,
    };
    lock(&shared.received).push(recorded);
    let config = lock(&shared.config).clone();
    if !config.delay.is_zero() {
        tokio::time::sleep(config.delay).await;
    }
    let status = StatusCode::from_u16(config.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = config.body.unwrap_or_else(|| {
        if status.is_success() {
            json!({"success": true, "id": uuid::Uuid::new_v4().to_string()})
        } else {
            let reason = status.canonical_reason().unwrap_or("error");
            json!({"success": false, "error": reason})
        }
    });
    (status, axum::Json(body)).into_response()
}
