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
use super::params::GenerateImageParams;
use super::surface::icons;
use crate::batch::{self, BadLine, BatchState, Line, LineResult, LineStatus};

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

fn report(state: &BatchState) -> CallToolResult {
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
        let budget = match self.budget(p.wait_seconds) {
            Ok(b) => b,
            Err(e) => return refuse(e.to_string()),
        };
        let concurrency = p.concurrency.unwrap_or(4);
        if !(1..=16).contains(&concurrency) {
            return refuse(format!(
                "concurrency: {concurrency} is outside 1..=16. Run 1 to 16 lines at once."
            ));
        }
        if p.defaults.contains_key("prompt") {
            return refuse(
                "defaults: a batch's prompts come from prompts or file, not defaults. Remove \"prompt\" from defaults.",
            );
        }
        let (mut lines, mut bad): (Vec<Line>, Vec<BadLine>) = (Vec::new(), Vec::new());
        match (&p.file, p.prompts.is_empty()) {
            (Some(_), false) | (None, true) => {
                return refuse(
                    "prompts/file: give either a list of prompts or a prompt file (exactly one). E.g. {\"prompts\": [\"a red kite\", \"a blue kite\"]}.",
                );
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
                        return refuse(format!(
                            "file: {:?} {why}. Give a UTF-8 text or .jsonl prompt file (at most {} MiB) by a path relative to the output root or inside an input_dirs folder.",
                            file.trim(),
                            MAX_PROMPT_FILE_BYTES >> 20
                        ));
                    }
                    Err(e) => return refuse(format!("file: reading was interrupted: {e}")),
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
        if lines.is_empty() && bad.is_empty() {
            return refuse(
                "prompts/file: no prompts found (blank lines and # comments are skipped). Add at least one prompt.",
            );
        }
        let key = p
            .batch_key
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let jobs = self.state.jobs.clone();
        let defaults = p.defaults.clone();
        let build: batch::run::BuildJob = Arc::new(move |line: &Line| {
            let mut args = defaults.clone();
            for (k, v) in &line.overrides {
                args.insert(k.clone(), v.clone());
            }
            args.insert("prompt".into(), Value::String(line.prompt.clone()));
            let params: GenerateImageParams =
                serde_json::from_value(Value::Object(args)).map_err(|e| e.to_string())?;
            params.into_job(&jobs)
        });
        let running = batch::start(
            self.state.jobs.clone(),
            key,
            lines,
            bad,
            &p.defaults,
            concurrency,
            build,
        );
        let state = self.wait_batch(running.state, budget, &ctx).await;
        report(&state)
    }
}

impl EaselServer {
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
