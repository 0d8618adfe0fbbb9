//! MCP tasks (SEP-2663, the `io.modelcontextprotocol/tasks` extension; ARCHITECTURE.md decision 9):
//! a task is a record easel already keeps durably. A generation's task id is its job id; a
//! batch's is `batch:` and its batch key (the batch record, beside its lines' jobs); a
//! publish's is its note record id. `tasks/get` and `tasks/cancel` read the job store, so a
//! task outlives the easel that made it and is seen by every easel sharing the data dir.
//!
//! Outcomes: a finished job is `completed` with the very result get_job returns, `isError`
//! included (a failed generation is a tool error the agent acts on, as in a live call);
//! a cancelled one is `cancelled`. `failed` (a protocol-level error object) is never used:
//! easel has no failure that is not a tool result.

use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::handler::server::tool::parse_json_object;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CreateTaskResult, DetailedTask,
    GetTaskResult, JsonObject, Task, TaskPayload, TaskStatus,
};
use rmcp::service::RequestContext;
use serde_json::json;
use std::time::Duration;

use tokio::sync::watch;

use super::EaselServer;
use super::batch_tool::{GenerateBatchParams, report as batch_result};
use super::confirm::Answers;
use super::params::{EditImageParams, GenerateImageParams};
use super::publishing::{PublishNoteParams, note_result};
use super::report::{Extras, tool_result};
use crate::batch::{BatchSpec, BatchState, LineStatus};
use crate::clock::now_ms;
use crate::jobs::{BatchRecord, Cancelled, Job, JobStatus, NoteOutcome, NoteRecord};
use crate::outputs::PreviewMode;
use crate::publish::PublishReport;

/// What a client polls a publish at: it takes seconds to minutes (a browser posts it).
const PUBLISH_POLL: Duration = Duration::from_secs(5);
/// For a job whose backend is no longer configured here.
const DEFAULT_POLL: Duration = Duration::from_secs(2);
/// The tools that answer a declaring client with a task.
const TASK_TOOLS: [&str; 4] = [
    "generate_image",
    "edit_image",
    "generate_batch",
    "publish_note",
];
/// A batch's task id is this and its batch key.
const BATCH_PREFIX: &str = "batch:";

pub(super) fn batch_task_id(key: &str) -> String {
    format!("{BATCH_PREFIX}{key}")
}

/// Whether this call asked (per request, or at initialize) for the tasks extension.
pub(super) fn client_declared(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.client_capabilities()
        .is_some_and(|caps| caps.supports_tasks())
}

/// A task's envelope. Retention is honest: easel keeps jobs, notes and batches until
/// someone runs `easel jobs prune`, so there is no time-to-live (`ttlMs: null`).
fn task(id: &str, created_ms: u64, updated_ms: u64, poll: Duration) -> Task {
    let mut t = Task::new(
        id,
        TaskStatus::Working,
        crate::clock::format_utc_millis(created_ms),
        crate::clock::format_utc_millis(updated_ms),
    )
    .with_poll_interval_ms(poll.as_millis() as u64);
    t.ttl_ms = None;
    t
}

fn as_object(result: &CallToolResult) -> Result<JsonObject, McpError> {
    match serde_json::to_value(result) {
        Ok(serde_json::Value::Object(o)) => Ok(o),
        Ok(_) | Err(_) => Err(McpError::internal_error(
            "easel could not encode the task's result",
            None,
        )),
    }
}

fn store_error(e: impl std::fmt::Display) -> McpError {
    McpError::internal_error(
        format!(
            "easel could not read its job store: {e}. Try again; if it persists, check the data dir's disk."
        ),
        None,
    )
}

/// Where a job stands, for people: "40%: step 8 of 20 (position 2 in queue)".
fn progress_message(job: &Job) -> String {
    let p = &job.progress;
    let mut text = format!(
        "{} {:.0}%: {}",
        job.status.as_str(),
        p.fraction * 100.0,
        p.message
    );
    if let Some(q) = p.queue_position {
        text.push_str(&format!(" (position {q} in queue)"));
    }
    text
}

impl EaselServer {
    /// The task form of a tool call, for a client that declared tasks: `None` when the tool
    /// has none or its arguments do not parse (the tool itself then answers, with exactly
    /// the error it gives any client). Validation is the tool's own preparation function.
    pub(super) async fn call_as_task(
        &self,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<Result<CallToolResponse, McpError>> {
        if !TASK_TOOLS.contains(&request.name.as_ref()) {
            return None;
        }
        let args = request.arguments.clone().unwrap_or_default();
        // The same confirmation as the router's (`confirm::guard`), since this path does
        // not go through the router. Arguments that do not parse are not asked about, so
        // a call handed back to the router below is never asked twice.
        let answers = Answers::from_request(request);
        if let Some(stop) = self.confirm_gate(&request.name, &args, answers, ctx).await {
            return Some(Ok(stop));
        }
        let created = match request.name.as_ref() {
            "generate_image" => {
                let p = parse_json_object::<GenerateImageParams>(args).ok()?;
                self.prepare_generate(p.into())
                    .map(|prepared| self.job_task(&prepared.submitted.job))
            }
            "edit_image" => {
                let p = parse_json_object::<EditImageParams>(args).ok()?;
                self.prepare_edit(p)
                    .await
                    .map(|prepared| self.job_task(&prepared.submitted.job))
            }
            "generate_batch" => {
                let p = parse_json_object::<GenerateBatchParams>(args).ok()?;
                match self.prepare_batch(p, true).await {
                    Ok(prepared) => {
                        let id = batch_task_id(&prepared.key);
                        return Some(
                            self.batch_task(&id)
                                .map(|t| CreateTaskResult::new(t).into()),
                        );
                    }
                    Err(refusal) => Err(refusal),
                }
            }
            "publish_note" => {
                let p = parse_json_object::<PublishNoteParams>(args).ok()?;
                match self.prepare_publish(p).await {
                    Ok(publishing) => {
                        let id = publishing.record_id.clone();
                        // The publish runs (and records its outcome) on its own task.
                        drop(publishing);
                        return Some(self.note_task(&id).map(|t| CreateTaskResult::new(t).into()));
                    }
                    Err(refusal) => Err(refusal),
                }
            }
            _ => return None,
        };
        Some(Ok(match created {
            Ok(task) => CreateTaskResult::new(task).into(),
            Err(refusal) => refusal.into(),
        }))
    }

    fn poll_for(&self, backend: &str) -> Duration {
        self.state
            .jobs
            .backend(Some(backend))
            .map_or(DEFAULT_POLL, |b| b.poll_interval())
    }

    /// A job's task envelope, status and message only.
    fn job_task(&self, job: &Job) -> Task {
        let mut t = task(
            &job.id,
            job.created_at_ms,
            job.updated_at_ms,
            self.poll_for(&job.backend),
        );
        t.status_message = Some(progress_message(job));
        t
    }

    /// `tasks/get`: the task as the job store has it.
    pub(super) async fn task_get(&self, id: &str) -> Result<GetTaskResult, McpError> {
        let jobs = &self.state.jobs;
        if let Some(job) = jobs.get(id).map_err(store_error)? {
            return self.job_detail(&job).await.map(GetTaskResult::new);
        }
        if id.starts_with(BATCH_PREFIX)
            && let Some(record) = jobs.store().get_batch(id).map_err(store_error)?
        {
            return self.batch_detail(record).map(GetTaskResult::new);
        }
        if let Some(note) = jobs.store().get_note(id).map_err(store_error)? {
            let abandoned = self.abandoned(&note);
            return note_detail(&note, abandoned).map(GetTaskResult::new);
        }
        Err(self.unknown(id))
    }

    /// A finished job carries exactly what get_job answers for it (default preview).
    async fn job_detail(&self, job: &Job) -> Result<DetailedTask, McpError> {
        let t = self.job_task(job);
        let payload = match job.status {
            JobStatus::Queued | JobStatus::Running => TaskPayload::Working,
            JobStatus::Cancelled => TaskPayload::Cancelled,
            JobStatus::Succeeded | JobStatus::Failed => TaskPayload::Completed {
                result: as_object(
                    &tool_result(job, PreviewMode::default(), Extras::default()).await,
                )?,
            },
        };
        Ok(DetailedTask::new(t, payload))
    }

    fn unknown(&self, id: &str) -> McpError {
        McpError::invalid_params(
            format!(
                "taskId: no task {id:?} in {}. It was made by an easel with another data dir (EASEL_DATA_DIR), pruned, or mistyped. Ask the easel that created it, or call the tool again.",
                self.state.jobs.store().location()
            ),
            Some(json!({"taskId": id})),
        )
    }

    /// `tasks/cancel`: the job is cancelled at its backend, as cancel_job does.
    pub(super) async fn task_cancel(&self, id: &str) -> Result<(), McpError> {
        let jobs = &self.state.jobs;
        match jobs.cancel(id).await.map_err(store_error)? {
            Cancelled::Stopping | Cancelled::Marked(_) => return Ok(()),
            Cancelled::AlreadyFinished(status) => {
                return Err(McpError::invalid_params(
                    format!(
                        "taskId: task {id:?} already finished ({}); nothing was cancelled. Read its result with tasks/get.",
                        status.as_str()
                    ),
                    Some(json!({"taskId": id, "status": status.as_str()})),
                ));
            }
            Cancelled::NotFound => {}
        }
        if id.starts_with(BATCH_PREFIX)
            && let Some(record) = jobs.store().get_batch(id).map_err(store_error)?
        {
            return self.cancel_batch(record).await;
        }
        if let Some(note) = jobs.store().get_note(id).map_err(store_error)? {
            return Err(McpError::invalid_params(
                format!(
                    "taskId: task {id:?} is a publish ({}), which cannot be stopped: a note half sent may still post. Read its outcome with tasks/get, and check the account.",
                    note.outcome.as_str()
                ),
                Some(json!({"taskId": id})),
            ));
        }
        Err(self.unknown(id))
    }
}

/// A publish: working while its record says pending, then publish_note's own answer,
/// rebuilt from the record. A record still pending when no send could still be running
/// (`abandoned`) was left by an easel that stopped mid-send: completed, outcome unknown,
/// instead of working forever.
fn note_detail(note: &NoteRecord, abandoned: bool) -> Result<DetailedTask, McpError> {
    let mut t = note_envelope(note);
    if abandoned {
        t.status_message = Some("unknown: the easel sending it stopped mid-send".into());
    }
    let report = match note.outcome {
        NoteOutcome::Pending if !abandoned => {
            return Ok(DetailedTask::new(t, TaskPayload::Working));
        }
        NoteOutcome::Pending => PublishReport::crashed(
            &note.id,
            &note.publisher,
            "the easel sending it stopped before it recorded the service's answer",
        ),
        _ => PublishReport::recorded(note),
    };
    let payload = TaskPayload::Completed {
        result: as_object(&note_result(&report))?,
    };
    Ok(DetailedTask::new(t, payload))
}

/// How long past its last update a pending publish may still be in flight when its
/// publisher is no longer configured.
const UNKNOWN_PUBLISHER_SEND: Duration = Duration::from_secs(15 * 60);
/// Slack beyond the publisher's time-outs (recording the answer, a busy store).
const SEND_MARGIN: Duration = Duration::from_secs(60);

fn note_envelope(note: &NoteRecord) -> Task {
    let mut t = task(
        &note.id,
        note.created_at_ms,
        note.updated_at_ms,
        PUBLISH_POLL,
    );
    t.status_message = Some(format!("{}: {}", note.outcome.as_str(), note.message));
    t
}

impl EaselServer {
    /// Whether a pending publish can no longer be in flight in any easel: every send is
    /// bounded by its publisher's time-outs, so past them (and a margin) nobody is sending.
    fn abandoned(&self, note: &NoteRecord) -> bool {
        let longest = self
            .state
            .options
            .publishers
            .pick(Some(&note.publisher))
            .map_or(UNKNOWN_PUBLISHER_SEND, |p| p.longest_send());
        let age = now_ms().saturating_sub(note.updated_at_ms);
        note.outcome == NoteOutcome::Pending
            && u128::from(age) > (longest + SEND_MARGIN).as_millis()
    }

    fn note_task(&self, id: &str) -> Result<Task, McpError> {
        match self.state.jobs.store().get_note(id).map_err(store_error)? {
            Some(note) => Ok(note_envelope(&note)),
            None => Err(self.unknown(id)),
        }
    }

    fn batch_task(&self, id: &str) -> Result<Task, McpError> {
        match self.state.jobs.store().get_batch(id).map_err(store_error)? {
            Some(record) => self.batch_detail(record).map(|d| d.task),
            None => Err(self.unknown(id)),
        }
    }

    fn batch_poll(&self, spec: &BatchSpec) -> Duration {
        let backend = spec.defaults.get("backend").and_then(|b| b.as_str());
        self.state
            .jobs
            .backend(backend)
            .map_or(DEFAULT_POLL, |b| b.poll_interval())
    }

    /// A batch: its stored final state, else its state here (when this easel runs it), else
    /// as its lines' jobs stand in the store; a batch nobody runs is resumed here (its lines
    /// keep their idempotency keys, so nothing is submitted twice).
    fn batch_detail(&self, record: BatchRecord) -> Result<DetailedTask, McpError> {
        let spec: BatchSpec = serde_json::from_value(record.spec.clone())
            .map_err(|e| store_error(format!("batch {} is unreadable: {e}", record.id)))?;
        let stored = record
            .result
            .clone()
            .and_then(|r| serde_json::from_value::<BatchState>(r).ok());
        let state = match stored {
            Some(state) => state,
            None => match self.live_batch(&record.id) {
                Some(state) => state,
                None => {
                    let state = spec
                        .state(&record.batch_key, self.state.jobs.store().as_ref())
                        .map_err(store_error)?;
                    if state.done {
                        self.keep_result(&record, &state);
                    } else if !record.cancelled {
                        // Read from the store this time; the resumed run answers next time.
                        let _ = self.start_batch_task(&record.id, &record.batch_key, spec.clone());
                    }
                    state
                }
            },
        };
        let mut t = task(
            &record.id,
            record.created_at_ms,
            record.updated_at_ms,
            self.batch_poll(&spec),
        );
        let failed = state.count(LineStatus::Failed);
        t.status_message = Some(format!(
            "{} of {} line(s) finished ({failed} failed)",
            state.finished(),
            state.lines.len()
        ));
        let payload = if record.cancelled {
            TaskPayload::Cancelled
        } else if state.done {
            TaskPayload::Completed {
                result: as_object(&batch_result(&state))?,
            }
        } else {
            TaskPayload::Working
        };
        Ok(DetailedTask::new(t, payload))
    }

    fn live_batch(&self, id: &str) -> Option<BatchState> {
        let live = self.state.batches.lock().ok()?;
        live.get(id).map(|rx| rx.borrow().clone())
    }

    /// Writes a finished batch's state into its record (see [`BatchRecord::result`]).
    fn keep_result(&self, record: &BatchRecord, state: &BatchState) {
        let mut done = record.clone();
        done.result = serde_json::to_value(state).ok();
        done.updated_at_ms = now_ms();
        if let Err(e) = self.state.jobs.store().put_batch(&done) {
            tracing::error!(batch = %record.id, error = %e, "could not record a batch's result");
        }
    }

    /// Runs the batch here (unless it already runs here), remembered for tasks/get,
    /// recording its result when it ends.
    pub(super) fn start_batch_task(
        &self,
        id: &str,
        key: &str,
        spec: BatchSpec,
    ) -> watch::Receiver<BatchState> {
        let mut live = match self.state.batches.lock() {
            Ok(live) => live,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(rx) = live.get(id) {
            return rx.clone();
        }
        let mut rx = self.run_batch(key, spec, Some(id));
        let answer = rx.clone();
        live.insert(id.to_string(), rx.clone());
        drop(live);
        let (server, id) = (self.clone(), id.to_string());
        tokio::spawn(async move {
            while !rx.borrow_and_update().done {
                if rx.changed().await.is_err() {
                    break;
                }
            }
            let state = rx.borrow().clone();
            if let Ok(Some(record)) = server.state.jobs.store().get_batch(&id) {
                server.keep_result(&record, &state);
            }
            if let Ok(mut live) = server.state.batches.lock() {
                live.remove(&id);
            }
        });
        answer
    }

    /// Marks the batch cancelled (no further line is submitted, here or in any easel
    /// sharing the store) and cancels its lines' unfinished jobs at their backends.
    async fn cancel_batch(&self, mut record: BatchRecord) -> Result<(), McpError> {
        if record.result.is_some() {
            return Err(McpError::invalid_params(
                format!(
                    "taskId: batch task {:?} already finished; nothing was cancelled. Read its result with tasks/get.",
                    record.id
                ),
                Some(json!({"taskId": record.id})),
            ));
        }
        record.cancelled = true;
        record.updated_at_ms = now_ms();
        let store = self.state.jobs.store().clone();
        store.put_batch(&record).map_err(store_error)?;
        let spec: BatchSpec = serde_json::from_value(record.spec.clone())
            .map_err(|e| store_error(format!("batch {} is unreadable: {e}", record.id)))?;
        let state = spec
            .state(&record.batch_key, store.as_ref())
            .map_err(store_error)?;
        for line in state
            .lines
            .iter()
            .filter(|l| l.status == LineStatus::Running)
        {
            if let Some(job) = &line.job_id {
                self.state.jobs.cancel(job).await.map_err(store_error)?;
            }
        }
        Ok(())
    }
}
