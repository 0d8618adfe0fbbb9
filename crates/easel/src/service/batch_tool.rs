//! generate_batch: many prompts at once, from a list or a prompt file.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::EaselServer;
use super::params::batch_line_input;
use super::surface::icons;
use crate::batch::{self, BadLine, BatchSpec, BatchState, Line, LineResult, LineStatus};
use crate::intake::Face;

/// Largest prompt file read: far beyond any batch (lines are capped), small enough to read
/// into memory at once.
const MAX_PROMPT_FILE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateBatchParams {
    /// Strings, or {"prompt": ..., plus generate_image parameters}.
    ///
    /// Per-line parameters such as size, seed, model, count or filename override defaults.
    #[serde(default)]
    pub prompts: Vec<Value>,
    /// Or a prompt file: one prompt a line (# comments), or .jsonl.
    ///
    /// A path relative to the output root or inside an input_dirs folder; blank lines and # comments are skipped; .jsonl lines are objects like the entries of prompts.
    #[serde(default)]
    pub file: Option<String>,
    /// generate_image parameters for every line.
    ///
    /// Any generate_image parameter except prompt, e.g. {"backend": "modelscope", "size": "1328x1328", "output_dir": "batch"}.
    #[serde(default)]
    pub defaults: Map<String, Value>,
    /// Same key: collects results, resubmits nothing. Generated when omitted.
    #[serde(default)]
    pub batch_key: Option<String>,
    /// Lines at once, 1-16 (default 4).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Seconds to wait, 0-600 (default 45); the batch runs on.
    ///
    /// The batch keeps running after; call again with the same batch_key to collect.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// True only after the user approved this call; needed when easel cannot ask.
    #[serde(default)]
    #[allow(dead_code)] // read from the raw arguments by the confirmation gate (confirm.rs)
    pub confirm: bool,
}

/// Structured result of generate_batch.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchReport {
    pub batch_key: String,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Lines not finished yet.
    pub running: usize,
    pub done: bool,
    pub lines: Vec<LineResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
}

fn refuse(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

/// generate_batch's answer (also a batch task's result).
pub(super) fn report(state: &BatchState) -> CallToolResult {
    let total = state.lines.len();
    let running = total - state.finished();
    let r = BatchReport {
        batch_key: state.batch_key.clone(),
        total,
        succeeded: state.count(LineStatus::Succeeded),
        failed: state.count(LineStatus::Failed),
        running,
        done: state.done,
        lines: state.lines.clone(),
        next_step: (running > 0).then(|| {
            format!(
                "{running} line(s) still running. Call generate_batch again with the same prompts (or file) and batch_key \"{}\" to collect them; nothing is submitted twice.",
                state.batch_key
            )
        }),
    };
    let mut text = format!(
        "Batch {}: {} of {total} line(s) succeeded, {} failed, {running} still running.",
        r.batch_key, r.succeeded, r.failed
    );
    for line in &r.lines {
        match line.status {
            LineStatus::Succeeded => text.push_str(&format!(
                "\n- line {} ok: {}",
                line.line,
                line.files.join(", ")
            )),
            LineStatus::Failed | LineStatus::Cancelled => text.push_str(&format!(
                "\n- line {} failed: {}",
                line.line,
                line.error.as_deref().unwrap_or("?")
            )),
            LineStatus::Pending | LineStatus::Running => text.push_str(&format!(
                "\n- line {} running{}",
                line.line,
                line.job_id
                    .as_deref()
                    .map(|j| format!(" (job {j})"))
                    .unwrap_or_default()
            )),
        }
    }
    if let Some(next) = &r.next_step {
        text.push('\n');
        text.push_str(next);
    }
    let mut result = if r.succeeded == 0 && r.failed > 0 && running == 0 {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = serde_json::to_value(&r).ok();
    result
}

#[tool_router(router = batch_router, vis = "pub")]
impl EaselServer {
    /// Run one generate_image job per prompt, from a list or a prompt file; a failed line never stops the others.
    /// A prompt file is text (one prompt a line) or JSON Lines (per-line parameters); defaults are shared by every line, concurrency is bounded and progress covers the batch ("batch: 3 of 10 line(s) finished (1 failed)"). The summary lists successes with their files and failures with line number and reason.
    /// Each line's job has a stable idempotency key (batch_key + line number + content), so calling again with the same batch_key collects the results instead of paying twice.
    #[tool(
        name = "generate_batch",
        output_schema = schema_for_output::<BatchReport>(),
        icons = icons::icon(icons::BATCH),
        annotations(title = "Generate batch", destructive_hint = false)
    )]
    async fn generate_batch(
        &self,
        Parameters(p): Parameters<GenerateBatchParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        match self.prepare_batch(p, false).await {
            Ok(prepared) => {
                let state = self.wait_batch(prepared.state, prepared.budget, &ctx).await;
                report(&state)
            }
            Err(refusal) => refusal,
        }
    }
}

/// A batch whose arguments passed every check and which has started: the waiting tool and
/// the MCP task path both start from here.
pub(super) struct PreparedBatch {
    pub key: String,
    pub state: tokio::sync::watch::Receiver<BatchState>,
    pub budget: Duration,
}

impl EaselServer {
    /// Validates generate_batch's arguments (reading the prompt file) and starts the batch.
    /// As a task (`as_task`), the batch is recorded in the job store before it starts.
    pub(super) async fn prepare_batch(
        &self,
        p: GenerateBatchParams,
        as_task: bool,
    ) -> Result<PreparedBatch, CallToolResult> {
        let budget = self
            .budget(p.wait_seconds)
            .map_err(|e| refuse(e.to_string()))?;
        let concurrency = p.concurrency.unwrap_or(4);
        if !(1..=16).contains(&concurrency) {
            return Err(refuse(format!(
                "concurrency: {concurrency} is outside 1..=16. Run 1 to 16 lines at once."
            )));
        }
        if p.defaults.contains_key("prompt") {
            return Err(refuse(
                "defaults: a batch's prompts come from prompts or file, not defaults. Remove \"prompt\" from defaults.",
            ));
        }
        let (lines, bad) = self.batch_lines(&p).await?;
        if lines.is_empty() && bad.is_empty() {
            return Err(refuse(
                "prompts/file: no prompts found (blank lines and # comments are skipped). Add at least one prompt.",
            ));
        }
        let key = p
            .batch_key
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let spec = BatchSpec {
            lines,
            bad,
            defaults: p.defaults,
            concurrency,
        };
        let state = if as_task {
            let id = self.record_batch(&key, &spec).map_err(refuse)?;
            self.start_batch_task(&id, &key, spec)
        } else {
            self.run_batch(&key, spec, None)
        };
        Ok(PreparedBatch { key, state, budget })
    }

    /// A batch's lines (and the lines that do not parse) from `prompts` or `file`, as
    /// generate_batch runs them; also what the confirmation counts.
    pub(super) async fn batch_lines(
        &self,
        p: &GenerateBatchParams,
    ) -> Result<(Vec<Line>, Vec<BadLine>), CallToolResult> {
        let (mut lines, mut bad): (Vec<Line>, Vec<BadLine>) = (Vec::new(), Vec::new());
        match (&p.file, p.prompts.is_empty()) {
            (Some(_), false) | (None, true) => {
                return Err(refuse(
                    "prompts/file: give either a list of prompts or a prompt file (exactly one). E.g. {\"prompts\": [\"a red kite\", \"a blue kite\"]}.",
                ));
            }
            (Some(file), true) => {
                let roots = self.input_roots();
                let name = file.clone();
                let read = tokio::task::spawn_blocking(move || {
                    crate::sources::read_text_file(&roots, &name, MAX_PROMPT_FILE_BYTES)
                })
                .await;
                let text = match read {
                    Ok(Ok((_, text))) => text,
                    Ok(Err(why)) => {
                        return Err(refuse(format!(
                            "file: {:?} {why}. Give a UTF-8 text or .jsonl prompt file (at most {} MiB) by a path relative to the output root or inside an input_dirs folder.",
                            file.trim(),
                            MAX_PROMPT_FILE_BYTES >> 20
                        )));
                    }
                    Err(e) => return Err(refuse(format!("file: reading was interrupted: {e}"))),
                };
                (lines, bad) = batch::parse(&text, batch::is_json_lines(file));
            }
            (None, false) => {
                for (i, item) in p.prompts.iter().enumerate() {
                    let parsed = match item {
                        Value::String(s) => Ok((s.clone(), Map::new())),
                        other => batch::parse_json_line(&other.to_string()),
                    };
                    match parsed {
                        Ok((prompt, overrides)) => lines.push(Line {
                            number: i + 1,
                            prompt,
                            overrides,
                        }),
                        Err(reason) => bad.push(BadLine {
                            number: i + 1,
                            reason,
                        }),
                    }
                }
            }
        }
        Ok((lines, bad))
    }

    /// Records the batch in the job store (before anything is submitted) as task
    /// `batch:{key}`; its id, or why it could not be recorded.
    fn record_batch(&self, key: &str, spec: &BatchSpec) -> Result<String, String> {
        let now = crate::clock::now_ms();
        let record = crate::jobs::BatchRecord {
            id: format!("batch:{key}"),
            batch_key: key.to_string(),
            spec: serde_json::to_value(spec)
                .map_err(|e| format!("easel could not record the batch: {e}"))?,
            cancelled: false,
            result: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.state
            .jobs
            .store()
            .put_batch(&record)
            .map_err(|e| format!("easel could not record the batch in its job store: {e}"))?;
        Ok(record.id)
    }

    /// Starts (or, with the same key, restarts: nothing is paid twice) the batch. A batch
    /// that is a task submits no more lines once the task is cancelled.
    pub(super) fn run_batch(
        &self,
        key: &str,
        spec: BatchSpec,
        task: Option<&str>,
    ) -> tokio::sync::watch::Receiver<BatchState> {
        let jobs = self.state.jobs.clone();
        let defaults = spec.defaults.clone();
        let task = task.map(str::to_string);
        let build: batch::run::BuildJob = Arc::new(move |line: &Line| {
            if let Some(id) = &task
                && jobs
                    .store()
                    .get_batch(id)
                    .map_err(|e| e.to_string())?
                    .is_some_and(|b| b.cancelled)
            {
                return Err("not submitted: the batch's task was cancelled".into());
            }
            batch_line_input(&defaults, line)?.into_job(&jobs, Face::Mcp)
        });
        batch::start(
            self.state.jobs.clone(),
            key.to_string(),
            spec.lines,
            spec.bad,
            &spec.defaults,
            spec.concurrency,
            build,
        )
        .state
    }

    /// Waits for the batch within the budget, reporting lines finished as progress.
    async fn wait_batch(
        &self,
        mut rx: tokio::sync::watch::Receiver<BatchState>,
        budget: Duration,
        ctx: &RequestContext<RoleServer>,
    ) -> BatchState {
        let deadline = tokio::time::Instant::now() + budget;
        let token = ctx.meta.get_progress_token();
        let mut last = -1.0f64;
        let mut beat = tokio::time::interval(self.state.options.heartbeat);
        loop {
            let state = rx.borrow_and_update().clone();
            if state.done {
                return state;
            }
            let finished = state.finished() as f64;
            if let Some(token) = token.clone() {
                let value = finished.max(last + 0.001);
                last = value;
                let message = format!(
                    "batch: {} of {} line(s) finished ({} failed)",
                    state.finished(),
                    state.lines.len(),
                    state.count(LineStatus::Failed)
                );
                let param = ProgressNotificationParam::new(token, value)
                    .with_total(state.lines.len() as f64)
                    .with_message(message);
                let _ = ctx.peer.notify_progress(param).await;
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return rx.borrow().clone(); },
                _ = beat.tick() => {}
                _ = tokio::time::sleep_until(deadline) => return state,
                _ = ctx.ct.cancelled() => return state,
            }
        }
    }
}
