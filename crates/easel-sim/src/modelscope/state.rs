//! What the simulated service remembers: configuration, tasks, quotas, pictures and the
//! request log.
//!
//! Everything sits behind short-lived `std` mutexes that are never held across an
//! `.await`, so hundreds of concurrent requests only ever wait for a few map operations.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::config::ModelScopeConfig;
use super::images::{Images, Picture, Spec};
use super::params::SubmitBody;
use super::task::{Outcome, Phase, Script, Task};
use super::wire::RateLimit;
use crate::record::RecordedRequest;

/// First task id handed out; the real capture in contract 2.5 shows `5075521`.
const FIRST_TASK_ID: u64 = 5_075_521;

/// State shared by all request handlers and the [`ModelScopeSim`](super::ModelScopeSim)
/// handle.
#[derive(Debug)]
pub struct Shared {
    /// `http://host:port/`, the prefix of image URLs.
    base_url: String,
    state: Mutex<State>,
    requests: Mutex<Vec<RecordedRequest>>,
}

#[derive(Debug)]
struct State {
    config: ModelScopeConfig,
    next_task_id: u64,
    tasks: HashMap<u64, Task>,
    images: Images,
    /// Accepted submits per token.
    used_by_token: HashMap<String, u32>,
    /// Accepted submits per (token, model).
    used_by_model: HashMap<(String, String), u32>,
    submissions: usize,
}

/// An accepted submit.
#[derive(Debug)]
pub struct Accepted {
    pub task_id: u64,
    pub id_as_number: bool,
    /// Image URLs the task will report (for the legacy synchronous answer).
    pub urls: Vec<String>,
    /// How long the task takes (the legacy synchronous answer waits this long).
    pub latency: Duration,
    pub rate: RateLimit,
}

/// A refused submit: 429 (contract 12.10).
#[derive(Debug)]
pub struct Throttled {
    pub rate: RateLimit,
    pub retry_after: Option<u64>,
}

/// A poll answer for a known task.
#[derive(Debug)]
pub struct Polled {
    pub phase: Phase,
    pub id_as_number: bool,
    pub rate: RateLimit,
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

/// True with probability `rate` (clamped to 0..=1).
fn chance(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate.min(1.0)
}

impl Shared {
    pub fn new(base_url: String, config: ModelScopeConfig) -> Shared {
        Shared {
            base_url,
            state: Mutex::new(State {
                config,
                next_task_id: FIRST_TASK_ID,
                tasks: HashMap::new(),
                images: Images::default(),
                used_by_token: HashMap::new(),
                used_by_model: HashMap::new(),
                submissions: 0,
            }),
            requests: Mutex::new(Vec::new()),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Reads the configuration.
    pub fn config<R>(&self, read: impl FnOnce(&ModelScopeConfig) -> R) -> R {
        read(&lock(&self.state).config)
    }

    /// Changes the configuration.
    pub fn update(&self, change: impl FnOnce(&mut ModelScopeConfig)) {
        change(&mut lock(&self.state).config);
    }

    pub fn recording(&self) -> bool {
        self.config(|c| c.record_requests)
    }

    pub fn push_request(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub fn submissions(&self) -> usize {
        lock(&self.state).submissions
    }

    pub fn polls(&self, task_id: &str) -> usize {
        let Some(id) = parse_task_id(task_id) else {
            return 0;
        };
        lock(&self.state).tasks.get(&id).map_or(0, |t| t.polls)
    }

    pub fn done_at(&self, task_id: &str) -> Option<Instant> {
        let id = parse_task_id(task_id)?;
        let done_at = lock(&self.state).tasks.get(&id)?.done_at()?;
        (done_at <= Instant::now()).then_some(done_at)
    }

    /// Counts down `fail_next_submits_500`; true if this submit must fail.
    pub fn take_submit_500(&self) -> bool {
        take(&mut lock(&self.state).config.fail_next_submits_500)
    }

    /// Counts down `fail_next_polls_500`; true if this poll must fail.
    pub fn take_poll_500(&self) -> bool {
        take(&mut lock(&self.state).config.fail_next_polls_500)
    }

    /// The quota headers for `token` and `model`, without using any quota.
    pub fn rate_limit(&self, token: &str, model: &str) -> RateLimit {
        lock(&self.state).rate_limit(token, model)
    }

    /// Admits a valid submit (throttling and quotas, contract 12.10), then creates its
    /// task and its pictures. All in one critical section, so concurrent submits never
    /// overdraw a quota.
    pub fn accept(&self, token: &str, body: &SubmitBody) -> Result<Accepted, Throttled> {
        let mut state = lock(&self.state);
        let config = &mut state.config;
        let forced = take(&mut config.reject_next_submits) || chance(config.rate_limit_429_rate);
        let retry_after = config.retry_after;
        let rate = state.rate_limit(token, &body.model);
        if forced || rate.remaining == 0 || rate.model_remaining == 0 {
            return Err(Throttled { rate, retry_after });
        }
        *state.used_by_token.entry(token.to_owned()).or_default() += 1;
        *state
            .used_by_model
            .entry((token.to_owned(), body.model.clone()))
            .or_default() += 1;
        state.submissions += 1;
        let rate = state.rate_limit(token, &body.model);

        let config = &state.config;
        let fails = chance(config.failure_rate);
        let (empty, count) = (config.succeed_with_empty_outputs, config.images_per_task);
        let message = (!config.fail_without_detail).then(|| config.failure_message.clone());
        let (latency, in_progress_polls) = (config.latency, config.in_progress_polls);
        let (running_status, id_as_number) = (config.running_status, config.task_id_as_number);

        // Contract 12.13: same prompt + seed + size, same picture. The sim picks a seed
        // when none was sent, as the real service does.
        let seed = body
            .seed
            .unwrap_or_else(|| rand::random_range(0..=2_147_483_647));
        let urls: Vec<String> = (0..count)
            .map(|index| {
                let name = state.images.add(Spec {
                    width: body.width,
                    height: body.height,
                    key: format!("{}\n{seed}\n{index}", body.prompt),
                });
                format!("{}img/{name}.png", self.base_url)
            })
            .collect();
        let outcome = if fails {
            Outcome::Fail { message }
        } else if empty {
            Outcome::Succeed { urls: Vec::new() }
        } else {
            Outcome::Succeed { urls: urls.clone() }
        };
        let script = Script {
            latency,
            in_progress_polls,
            running_status,
            outcome,
        };
        let task_id = state.next_task_id;
        state.next_task_id += 1;
        let task = Task::new(body.model.clone(), id_as_number, script, Instant::now());
        state.tasks.insert(task_id, task);
        Ok(Accepted {
            task_id,
            id_as_number,
            urls,
            latency,
            rate,
        })
    }

    /// Answers a poll of `task_id` by `token`; `None` if there is no such task.
    pub fn poll(&self, task_id: &str, token: &str) -> Option<Polled> {
        let id = parse_task_id(task_id)?;
        let mut state = lock(&self.state);
        let task = state.tasks.get_mut(&id)?;
        let phase = task.poll(Instant::now());
        let id_as_number = task.id_as_number;
        let model = task.model.clone();
        let rate = state.rate_limit(token, &model);
        Some(Polled {
            phase,
            id_as_number,
            rate,
        })
    }

    /// The picture named `name` (32 hex), if any.
    pub fn picture(&self, name: &str) -> Option<Picture> {
        lock(&self.state).images.get(name)
    }

    /// Notes that picture `name` was encoded, for cache eviction.
    pub fn picture_encoded(&self, name: &str) {
        lock(&self.state).images.encoded(name);
    }
}

impl State {
    fn rate_limit(&self, token: &str, model: &str) -> RateLimit {
        let used = self.used_by_token.get(token).copied().unwrap_or(0);
        let model_used = self
            .used_by_model
            .get(&(token.to_owned(), model.to_owned()))
            .copied()
            .unwrap_or(0);
        RateLimit {
            limit: self.config.daily_limit_per_token,
            remaining: self.config.daily_limit_per_token.saturating_sub(used),
            model_limit: self.config.daily_limit_per_model,
            model_remaining: self.config.daily_limit_per_model.saturating_sub(model_used),
        }
    }
}

/// Task ids are decimal digits (contract 2.5); anything else names no task.
fn parse_task_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
