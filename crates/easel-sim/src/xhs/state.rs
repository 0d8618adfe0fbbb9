//! What the simulated service remembers: configuration (login state included), the
//! published notes and the request log. Short-lived `std` mutexes, never held across an
//! `.await`.

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tokio::sync::watch;

use super::config::XhsConfig;
use crate::record::RecordedRequest;

/// State shared by the handlers and the [`XhsSim`](super::XhsSim) handle.
#[derive(Debug)]
pub struct Shared {
    config: Mutex<XhsConfig>,
    published: Mutex<Vec<Value>>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Turns true when the simulator stops, releasing hung publishes.
    stopping: watch::Sender<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the whole simulator down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(config: XhsConfig) -> Shared {
        Shared {
            config: Mutex::new(config),
            published: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            stopping: watch::Sender::new(false),
        }
    }

    /// Reads the configuration.
    pub fn config<R>(&self, read: impl FnOnce(&XhsConfig) -> R) -> R {
        read(&lock(&self.config))
    }

    /// Changes the configuration.
    pub fn update(&self, change: impl FnOnce(&mut XhsConfig)) {
        change(&mut lock(&self.config));
    }

    pub fn push_request(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub fn publish(&self, note: Value) {
        lock(&self.published).push(note);
    }

    pub fn published(&self) -> Vec<Value> {
        lock(&self.published).clone()
    }

    /// Releases everything waiting in [`stopped`](Self::stopped).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once the simulator stops.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        // An error means the sender is gone, which also means stopping.
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }
}
