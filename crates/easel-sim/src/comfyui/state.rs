//! What the simulated server remembers — configuration, queue, history, files, counters —
//! and the operations on it that must be atomic with the `status` broadcasts they cause.
//!
//! Everything sits behind one short-lived `std` mutex that is never held across an
//! `.await`. Lock order is state, then the socket hub; the hub never calls back into
//! state, so a status broadcast made under the state lock reaches every socket in
//! queue order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, watch};

use super::config::ComfyConfig;
use super::files::Files;
use super::json::{Json, obj};
use super::queue::{Heap, History, Job};
use super::registry::Registry;
use super::ws::{Frame, Hub};
use crate::record::RecordedRequest;

/// Locks a mutex, ignoring poisoning: a panic elsewhere must not take the whole
/// simulator down with it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the epoch, the unit of every ComfyUI timestamp.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// State shared by the request handlers, the sockets, the worker and the
/// [`ComfySim`](super::ComfySim) handle.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// The open WebSockets.
    pub hub: Hub,
    /// Wakes the worker: a job was queued or the queue was unpaused.
    wake: Notify,
    /// `/interrupt` hit the running job; reset when the next job starts.
    interrupted: AtomicBool,
    /// Cuts short a node's simulated work when an interrupt arrives.
    interrupt_signal: Notify,
    /// Set when the simulator shuts down, so sockets and the worker stop.
    closing: watch::Sender<bool>,
    /// Wakes the `POST /prompt` answers held by `hold_answers`.
    answers: Notify,
}

#[derive(Debug)]
struct State {
    config: ComfyConfig,
    /// The server-wide priority counter (contract 3.1).
    counter: i64,
    pending: Heap,
    running: Option<Job>,
    history: History,
    files: Files,
    /// The node the running job is executing, for a reconnecting owner (contract 8.1).
    last_node: Option<String>,
    prompts: Vec<serde_json::Value>,
    executions: usize,
    uploads: Vec<String>,
    ws_connections: usize,
}

impl State {
    fn queue_remaining(&self) -> usize {
        self.pending.len() + usize::from(self.running.is_some())
    }
}

/// `{"status": {"exec_info": {"queue_remaining": n}}}`.
pub fn status(queue_remaining: usize) -> Json {
    obj! {"status" => obj! {"exec_info" => obj! {"queue_remaining" => queue_remaining}}}
}

impl Shared {
    /// A fresh server with `config`.
    pub fn new(config: ComfyConfig) -> Shared {
        Shared {
            state: Mutex::new(State {
                config,
                counter: 0,
                pending: Heap::default(),
                running: None,
                history: History::default(),
                files: Files::default(),
                last_node: None,
                prompts: Vec::new(),
                executions: 0,
                uploads: Vec::new(),
                ws_connections: 0,
            }),
            requests: Mutex::new(Vec::new()),
            hub: Hub::default(),
            wake: Notify::new(),
            interrupted: AtomicBool::new(false),
            interrupt_signal: Notify::new(),
            closing: watch::Sender::new(false),
            answers: Notify::new(),
        }
    }

    /// Reads the configuration.
    pub fn config<R>(&self, read: impl FnOnce(&ComfyConfig) -> R) -> R {
        read(&lock(&self.state).config)
    }

    /// Changes the configuration and wakes the worker (an unpaused queue starts).
    pub fn update(&self, change: impl FnOnce(&mut ComfyConfig)) {
        change(&mut lock(&self.state).config);
        self.wake.notify_one();
        self.answers.notify_waiters();
    }

    /// Returns once answers are not held (`hold_answers` clear) or the simulator shuts
    /// down, whose graceful stop waits for every request.
    pub async fn answer_released(&self) {
        loop {
            let mut released = std::pin::pin!(self.answers.notified());
            // Registered before the check, so an `update` in between is not missed.
            released.as_mut().enable();
            if !self.config(|c| c.hold_answers) || *self.closing.borrow() {
                return;
            }
            released.await;
        }
    }

    /// The node registry as it is now (configured models, uploaded input files).
    pub fn registry(&self) -> Registry {
        let state = lock(&self.state);
        Registry::build(&state.config, state.files.input_names())
    }

    /// Reads the file store.
    pub fn files<R>(&self, read: impl FnOnce(&Files) -> R) -> R {
        read(&lock(&self.state).files)
    }

    /// Changes the file store.
    pub fn files_mut<R>(&self, change: impl FnOnce(&mut Files) -> R) -> R {
        change(&mut lock(&self.state).files)
    }

    pub fn push_request(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub fn prompts(&self) -> Vec<serde_json::Value> {
        lock(&self.state).prompts.clone()
    }

    pub fn executions(&self) -> usize {
        lock(&self.state).executions
    }

    pub fn queue_remaining(&self) -> usize {
        lock(&self.state).queue_remaining()
    }

    pub fn ws_connections(&self) -> usize {
        lock(&self.state).ws_connections
    }

    pub fn uploads(&self) -> Vec<String> {
        lock(&self.state).uploads.clone()
    }

    pub fn note_upload(&self, name: String) {
        lock(&self.state).uploads.push(name);
    }

    /// Takes the next value of the priority counter (every post with no explicit
    /// `number`, accepted or not).
    pub fn next_number(&self) -> i64 {
        let mut state = lock(&self.state);
        let number = state.counter;
        state.counter += 1;
        number
    }

    /// Queues an accepted job: heap push, `status` to every socket, wake the worker.
    pub fn enqueue(&self, job: Job, body: serde_json::Value) {
        let mut state = lock(&self.state);
        state.prompts.push(body);
        state.pending.push(job);
        self.hub.send(
            None,
            Frame::event("status", status(state.queue_remaining())),
        );
        drop(state);
        self.wake.notify_one();
    }

    /// `GET /queue`.
    pub fn queue(&self) -> Json {
        let state = lock(&self.state);
        let running: Vec<Json> = state.running.iter().map(Job::item).collect();
        let pending: Vec<Json> = state.pending.items().iter().map(Job::item).collect();
        obj! {"queue_running" => running, "queue_pending" => pending}
    }

    /// `POST /queue {"clear": true}`: pending jobs only; one `status`.
    pub fn clear_queue(&self) {
        let mut state = lock(&self.state);
        state.pending.clear();
        self.broadcast_status(&state);
    }

    /// `POST /queue {"delete": [id]}` for one id: a `status` per deleted job, two when
    /// it was the last one (upstream wipes the queue, then reports again).
    pub fn delete_pending(&self, prompt_id: &str) {
        let mut state = lock(&self.state);
        let was_last = state.pending.len() == 1;
        if state.pending.remove(prompt_id) {
            if was_last {
                self.broadcast_status(&state);
            }
            self.broadcast_status(&state);
        }
    }

    fn broadcast_status(&self, state: &State) {
        self.hub.send(
            None,
            Frame::event("status", status(state.queue_remaining())),
        );
    }

    /// `POST /interrupt`: with an id, only if that job is running; without, whatever
    /// runs.
    pub fn interrupt(&self, prompt_id: Option<&str>) {
        let state = lock(&self.state);
        let hit = match (prompt_id, &state.running) {
            (None, _) => true,
            (Some(id), Some(job)) => job.prompt_id == id,
            (Some(_), None) => false,
        };
        if hit {
            self.interrupted.store(true, Ordering::SeqCst);
            self.interrupt_signal.notify_waiters();
        }
    }

    /// True once an interrupt hit the running job.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Waits `duration`, or less if an interrupt arrives first.
    pub async fn pause(&self, duration: std::time::Duration) {
        if duration.is_zero() {
            return;
        }
        self.pause_until(after(tokio::time::Instant::now(), duration))
            .await;
    }

    /// Waits until `deadline`, or less if an interrupt arrives first. Work done between
    /// deadlines (previews, progress messages) falls inside the schedule instead of adding
    /// to it, as a GPU's sampling time does not grow with what the server does meanwhile.
    pub async fn pause_until(&self, deadline: tokio::time::Instant) {
        if deadline <= tokio::time::Instant::now() {
            return;
        }
        let signal = self.interrupt_signal.notified();
        tokio::pin!(signal);
        signal.as_mut().enable();
        if self.is_interrupted() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = signal => {}
        }
    }

    /// `GET /history/{id}`.
    pub fn history_one(&self, prompt_id: &str) -> Json {
        lock(&self.state).history.one(prompt_id)
    }

    /// `GET /history`.
    pub fn history_list(&self, max_items: Option<i64>, offset: Option<i64>) -> Json {
        lock(&self.state).history.list(max_items, offset)
    }

    /// `POST /history`.
    pub fn edit_history(&self, clear: bool, delete: &[String]) {
        let mut state = lock(&self.state);
        if clear {
            state.history.clear();
        }
        for id in delete {
            state.history.delete(id);
        }
    }

    /// The first frames of a new connection: `status` with its `sid`, then the current
    /// node if `sid` owns the running job (contract 8.1).
    pub fn greeting(&self, sid: &str) -> Vec<Frame> {
        let mut state = lock(&self.state);
        state.ws_connections += 1;
        let mut data = status(state.queue_remaining());
        data.insert("sid", sid);
        let mut frames = vec![Frame::event("status", data)];
        let owner = state.running.as_ref().and_then(Job::client_id);
        if owner.as_deref() == Some(sid)
            && let Some(node) = &state.last_node
        {
            frames.push(Frame::event("executing", obj! {"node" => node.as_str()}));
        }
        frames
    }

    /// Notes the node being executed (or none).
    pub fn set_last_node(&self, node: Option<&str>) {
        lock(&self.state).last_node = node.map(str::to_owned);
    }

    /// A receiver that changes when the simulator shuts down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Tells the worker and every socket to stop.
    pub fn close(&self) {
        self.closing.send_replace(true);
        self.answers.notify_waiters();
    }

    /// Waits for the next job the worker may run (none while paused), moves it to
    /// running, resets the interrupt flag and reports the queue; `None` on shutdown.
    pub async fn next_job(&self) -> Option<Job> {
        let mut closing = self.closing();
        loop {
            {
                let mut state = lock(&self.state);
                if *closing.borrow() {
                    return None;
                }
                if !state.config.paused
                    && let Some(job) = state.pending.pop()
                {
                    state.running = Some(job.clone());
                    self.interrupted.store(false, Ordering::SeqCst);
                    self.broadcast_status(&state);
                    return Some(job);
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                _ = closing.changed() => return None,
            }
        }
    }

    /// `task_done`: the history entry is written and the queue reported before the
    /// owner hears `executing null` (contract 8.4), so `/history/{id}` is filled when
    /// that message arrives.
    pub fn finish_job(&self, job: &Job, entry: Json, ran: bool) {
        let mut state = lock(&self.state);
        state.running = None;
        state.last_node = None;
        state.history.insert(&job.prompt_id, entry);
        if ran {
            state.executions += 1;
        }
        self.broadcast_status(&state);
    }
}

/// `start + duration`, or a year from now when that is past what `Instant` can hold.
pub fn after(start: tokio::time::Instant, duration: std::time::Duration) -> tokio::time::Instant {
    start.checked_add(duration).unwrap_or_else(|| {
        tokio::time::Instant::now() + std::time::Duration::from_secs(365 * 24 * 3600)
    })
}
