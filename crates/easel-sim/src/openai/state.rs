//! What the simulated provider remembers: configuration, the files its URLs point to,
//! and the request log. Short-lived `std` mutexes, never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::config::{OpenAiConfig, ProviderMode};
use super::render::Format;
use crate::record::RecordedRequest;

/// How many generated files stay downloadable; older URLs answer 404, as expired ones do
/// on the real storage (contract 2.2: URLs live 60 minutes).
const BLOB_CAP: usize = 256;

/// State shared by the handlers and the [`OpenAiSim`](super::OpenAiSim) handle.
#[derive(Debug)]
pub struct Shared {
    /// `http://host:port`, without a trailing slash.
    origin: String,
    state: Mutex<State>,
    requests: Mutex<Vec<RecordedRequest>>,
}

#[derive(Debug)]
struct State {
    config: OpenAiConfig,
    blobs: HashMap<String, (Bytes, Format)>,
    blob_order: VecDeque<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the whole simulator down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes one from a fault counter; true if it was positive.
fn take(counter: &mut u32) -> bool {
    let had = *counter > 0;
    *counter = counter.saturating_sub(1);
    had
}

impl Shared {
    pub fn new(origin: String, config: OpenAiConfig) -> Shared {
        Shared {
            origin,
            state: Mutex::new(State {
                config,
                blobs: HashMap::new(),
                blob_order: VecDeque::new(),
            }),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// `http://host:port/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.origin)
    }

    /// Reads the configuration.
    pub fn config<R>(&self, read: impl FnOnce(&OpenAiConfig) -> R) -> R {
        read(&lock(&self.state).config)
    }

    /// Changes the configuration.
    pub fn update(&self, change: impl FnOnce(&mut OpenAiConfig)) {
        change(&mut lock(&self.state).config);
    }

    pub fn mode(&self) -> ProviderMode {
        self.config(|c| c.mode.clone())
    }

    /// Counts down `reject_next_429`; true if this call must be refused.
    pub fn take_429(&self) -> bool {
        take(&mut lock(&self.state).config.reject_next_429)
    }

    /// Counts down `fail_next_500`; true if this call must fail.
    pub fn take_500(&self) -> bool {
        take(&mut lock(&self.state).config.fail_next_500)
    }

    pub fn push_request(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    /// Keeps `bytes` downloadable and returns their URL on this host (no auth needed).
    pub fn store_blob(&self, bytes: Bytes, format: Format) -> String {
        let name = format!("img-{}.{}", uuid::Uuid::new_v4().simple(), format.name());
        let mut state = lock(&self.state);
        state.blobs.insert(name.clone(), (bytes, format));
        state.blob_order.push_back(name.clone());
        while state.blob_order.len() > BLOB_CAP {
            if let Some(old) = state.blob_order.pop_front() {
                state.blobs.remove(&old);
            }
        }
        // Query parameters in the style of a signed storage URL; the route ignores them.
        format!("{}/files/{name}?se=3600&sp=r&sig=sim", self.origin)
    }

    /// The file named `name`, while it is kept.
    pub fn blob(&self, name: &str) -> Option<(Bytes, Format)> {
        lock(&self.state).blobs.get(name).cloned()
    }
}
