//! One ComfyUI server of the pool and what easel knows about it: health, its queue, the jobs
//! easel follows there, how long its jobs take, and what it can run. Shared by every
//! backend (pool) the server belongs to, so those counts are the same for all of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::super::api::Api;
use super::super::errors;
use super::super::hub::Hub;
use super::capabilities::Capabilities;
use super::choose::Load;
use super::health::Health;
use crate::backend::BackendError;
use crate::clock::now_ms;
use crate::config::ComfyServer;

/// Weight of the newest run in the moving average of job time.
const ALPHA: f64 = 0.3;

pub struct Server {
    pub name: String,
    pub url: String,
    pub weight: f64,
    pub pools: Vec<String>,
    /// Give up on a job here after this long.
    pub timeout: Duration,
    pub api: Api,
    pub hub: Arc<Hub>,
    /// Wakes the health check when a job finds the server failing.
    pub(super) wake: Arc<Notify>,
    state: Mutex<State>,
}

struct State {
    health: Health,
    /// `queue_remaining` from the last health check, and when.
    checked_queue: Option<(u64, Instant)>,
    /// Prompt ids easel submitted here and still follows (or is about to submit).
    in_flight: HashSet<String>,
    mean_secs: Option<f64>,
    /// When the last job easel followed here finished (ms since the epoch).
    last_done_ms: u64,
    capabilities: Option<(Arc<Capabilities>, Instant)>,
}

/// A job easel follows on a server; it stops counting when this is dropped.
pub struct Following {
    server: Arc<Server>,
    prompt_id: String,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.server.release(&self.prompt_id);
    }
}

/// A job counted in flight on the server it was chosen for, while it is being submitted.
/// Dropped unkept (the submission failed, or was abandoned when the job was cancelled) it
/// stops counting; kept, it counts until tracking ends.
pub struct Reservation {
    server: Option<Arc<Server>>,
    prompt_id: String,
}

impl Reservation {
    /// The server accepted the job: it stays counted (tracking takes over).
    pub fn keep(mut self) {
        self.server = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.release(&self.prompt_id);
        }
    }
}

/// What `backends` and `easel doctor` show of a server's load.
#[derive(Clone, Debug)]
pub struct LoadView {
    pub queue_remaining: Option<u64>,
    pub in_flight: usize,
    pub mean_secs: Option<f64>,
}

impl Server {
    pub fn new(settings: &ComfyServer, client_id: &str) -> Result<Server, BackendError> {
        let api = Api::new(settings)?;
        let hub = Hub::new(api.base(), api.headers().clone(), client_id);
        Ok(Server {
            name: settings.name.clone(),
            url: settings.url.clone(),
            weight: settings.weight,
            pools: settings.pools.clone(),
            timeout: settings.timeout,
            api,
            hub,
            wake: Arc::new(Notify::new()),
            state: Mutex::new(State {
                health: Health::Unknown,
                checked_queue: None,
                in_flight: HashSet::new(),
                mean_secs: None,
                last_done_ms: 0,
                capabilities: None,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn health(&self) -> Health {
        self.state().health.clone()
    }

    /// Records an answer; returns whether the server was down before (it rejoins).
    pub fn mark_up(&self, queue: Option<u64>) -> bool {
        let mut s = self.state();
        if let Some(q) = queue {
            s.checked_queue = Some((q, Instant::now()));
        }
        let was_down = s.health.is_down();
        if !matches!(s.health, Health::Up { .. }) {
            s.health = Health::Up { since_ms: now_ms() };
        }
        was_down
    }

    /// Takes the server out until it answers again; keeps the first failure's time.
    pub fn mark_down(&self, error: &BackendError) {
        let reason = errors::reason(error);
        let mut s = self.state();
        match &mut s.health {
            Health::Down { reason: r, .. } => *r = reason,
            other => {
                *other = Health::Down {
                    since_ms: now_ms(),
                    reason,
                }
            }
        }
    }

    /// A job found the server failing: out at once, and checked again from 1 s on.
    pub fn report_failure(&self, error: &BackendError) {
        let was_down = self.health().is_down();
        self.mark_down(error);
        if !was_down {
            tracing::warn!(server = %self.name, error = %error, "ComfyUI server failed; taken out of the pool");
            self.wake.notify_one();
        }
    }

    /// Checks the server once, now (no retries), and records the answer.
    pub async fn probe(&self) -> Result<(), BackendError> {
        match self.api.probe_queue().await {
            Ok(q) => {
                self.mark_up(Some(q));
                Ok(())
            }
            Err(e) => {
                self.mark_down(&e);
                Err(e)
            }
        }
    }

    /// Counts a job as in flight here from the moment it is chosen, so that jobs chosen
    /// at the same time spread out.
    pub fn reserve(self: &Arc<Self>, prompt_id: &str) -> Reservation {
        self.state().in_flight.insert(prompt_id.to_string());
        Reservation {
            server: Some(self.clone()),
            prompt_id: prompt_id.to_string(),
        }
    }

    pub fn release(&self, prompt_id: &str) {
        self.state().in_flight.remove(prompt_id);
    }

    /// Counts the job as in flight until the returned guard is dropped (tracking ends).
    pub fn follow(self: &Arc<Self>, prompt_id: &str) -> Following {
        self.state().in_flight.insert(prompt_id.to_string());
        Following {
            server: self.clone(),
            prompt_id: prompt_id.to_string(),
        }
    }

    /// A job accepted at `accepted_ms` finished now. ComfyUI runs one job at a time, so
    /// the job ran from the later of its acceptance and the previous job's end.
    pub fn record_done(&self, accepted_ms: u64) {
        let done = now_ms();
        let mut s = self.state();
        let start = accepted_ms.max(s.last_done_ms);
        s.last_done_ms = s.last_done_ms.max(done);
        if done <= start {
            return;
        }
        let secs = (done - start) as f64 / 1000.0;
        s.mean_secs = Some(match s.mean_secs {
            None => secs,
            Some(m) => m + ALPHA * (secs - m),
        });
    }

    /// The server's queue as last reported: the WebSocket's `status` while it is connected
    /// (it is pushed on every change), else the newer of it and the last health check if
    /// younger than `fresh`.
    fn remote_queue(&self, checked: Option<(u64, Instant)>, fresh: Duration) -> Option<u64> {
        let pushed = self.hub.last_queue();
        if self.hub.is_connected()
            && let Some((q, _)) = pushed
        {
            return Some(q);
        }
        [pushed, checked]
            .into_iter()
            .flatten()
            .max_by_key(|(_, at)| *at)
            .filter(|(_, at)| at.elapsed() <= fresh)
            .map(|(q, _)| q)
    }

    /// The chooser's view, `index` being the server's place in its pool.
    pub fn load(&self, index: usize, fresh: Duration) -> Load {
        let (checked, in_flight, mean_secs) = {
            let s = self.state();
            (s.checked_queue, s.in_flight.len() as u64, s.mean_secs)
        };
        Load {
            index,
            remote_queue: self.remote_queue(checked, fresh),
            in_flight,
            mean_secs,
            weight: self.weight,
        }
    }

    pub fn load_view(&self, fresh: Duration) -> LoadView {
        let (checked, in_flight, mean_secs) = {
            let s = self.state();
            (s.checked_queue, s.in_flight.len(), s.mean_secs)
        };
        LoadView {
            queue_remaining: self.remote_queue(checked, fresh),
            in_flight,
            mean_secs,
        }
    }

    /// How old the cached capabilities are; `None` when never fetched.
    pub fn capabilities_age(&self) -> Option<Duration> {
        self.state()
            .capabilities
            .as_ref()
            .map(|(_, at)| at.elapsed())
    }

    pub fn cached_capabilities(&self) -> Option<Arc<Capabilities>> {
        self.state().capabilities.as_ref().map(|(c, _)| c.clone())
    }

    /// Fetches `/object_info` and keeps its digest.
    pub async fn refresh_capabilities(&self) -> Result<Arc<Capabilities>, BackendError> {
        let info = self.api.object_info().await?;
        let caps = Arc::new(Capabilities::from_object_info(&info));
        self.state().capabilities = Some((caps.clone(), Instant::now()));
        Ok(caps)
    }

    /// The cached capabilities, fetched first if there are none.
    pub async fn capabilities(&self) -> Result<Arc<Capabilities>, BackendError> {
        match self.cached_capabilities() {
            Some(c) => Ok(c),
            None => self.refresh_capabilities().await,
        }
    }
}
