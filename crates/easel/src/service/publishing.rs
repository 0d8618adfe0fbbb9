//! The publishing tools: publish_note, publisher_status, list_notes. Thin: the rules and
//! the publishers live in `crate::publish`.

use std::time::{Duration, Instant};

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::EaselServer;
use super::surface::icons;
use crate::jobs::{NoteOutcome, NoteRecord};
use crate::publish::{NoteInput, PublishReport, Publishing, StatusReport, list_notes};

/// Keeps title, content and images required in the schema while serde lets them be
/// missing, so that a call missing several gets every problem listed at once.
fn require_note_fields(schema: &mut schemars::Schema) {
    schema.insert(
        "required".into(),
        serde_json::json!(["title", "content", "images"]),
    );
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = require_note_fields)]
pub struct PublishNoteParams {
    /// Publisher; the default when omitted.
    #[serde(default)]
    pub publisher: Option<String>,
    /// At most 20 units: CJK 1, ASCII ½, emoji 2.
    ///
    /// A Chinese (CJK) character counts 1, an ASCII character ½, an emoji 2.
    #[serde(default)]
    pub title: String,
    /// Body, at most 1000 characters; hashtags go in tags.
    #[serde(default)]
    pub content: String,
    /// 1-18: saved paths, job ids, easel:// image URIs or http(s) URLs.
    ///
    /// Saved paths relative to the output root (or absolute inside it), job ids (all their images), easel://jobs/{job_id}/images/{index} URIs, or http(s) URLs.
    #[serde(default)]
    pub images: Vec<String>,
    /// Up to 10 topics.
    ///
    /// A leading # is dropped.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Publish later: RFC 3339 time 1 h to 14 days ahead.
    ///
    /// With an offset, e.g. "2026-09-02T10:30:00+08:00".
    #[serde(default)]
    pub schedule_at: Option<String>,
    /// public (default), private or friends.
    ///
    /// Also 公开可见, 仅自己可见, 仅互关好友可见.
    #[serde(default)]
    pub visibility: Option<String>,
    /// True only after the user approved this call; needed when easel cannot ask.
    #[serde(default)]
    #[allow(dead_code)] // read from the raw arguments by the confirmation gate (confirm.rs)
    pub confirm: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PublisherStatusParams {
    /// One publisher; all when omitted.
    #[serde(default)]
    pub publisher: Option<String>,
    /// Fetch a login QR code if logged out (default true); false only checks.
    ///
    /// Asking for a new code cancels the previous one, so pass false to only check after scanning.
    #[serde(default)]
    pub login: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListNotesParams {
    /// Only this publisher's notes.
    #[serde(default)]
    pub publisher: Option<String>,
    /// 1-200 (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusList {
    pub publishers: Vec<StatusReport>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NoteList {
    pub notes: Vec<NoteRecord>,
}

fn refuse(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

fn with_structured<T: Serialize>(mut r: CallToolResult, value: &T) -> CallToolResult {
    r.structured_content = serde_json::to_value(value).ok();
    r
}

/// publish_note's answer for a finished publish (also an MCP task's result).
pub(super) fn note_result(report: &PublishReport) -> CallToolResult {
    let content = vec![ContentBlock::text(report.text())];
    let result = if report.outcome == NoteOutcome::Published {
        CallToolResult::success(content)
    } else {
        CallToolResult::error(content)
    };
    with_structured(result, report)
}

impl From<PublishNoteParams> for NoteInput {
    fn from(p: PublishNoteParams) -> NoteInput {
        NoteInput {
            publisher: p.publisher,
            title: p.title,
            content: p.content,
            images: p.images,
            tags: p.tags,
            schedule_at: p.schedule_at,
            visibility: p.visibility,
        }
    }
}

impl EaselServer {
    /// Checks the note and records it as pending before it is sent: the waiting tool and the
    /// MCP task path both start from here.
    pub(super) async fn prepare_publish(
        &self,
        p: PublishNoteParams,
    ) -> Result<Publishing, CallToolResult> {
        let input = NoteInput::from(p);
        let state = &self.state;
        state
            .options
            .publishers
            .publish(&state.jobs, &state.options.input_dirs, input)
            .await
            .map_err(|e| refuse(e.to_string()))
    }
}

#[tool_router(router = publish_router, vis = "pub")]
impl EaselServer {
    /// Publish images as a note (Xiaohongshu, webhook or draft folder). Never retried: after outcome unconfirmed or unknown, check the account first.
    /// Xiaohongshu goes through xiaohongshu-mcp. Every limit is checked first and all problems are listed at once; the outcome is "published" only when the service confirms, otherwise unconfirmed, failed or unknown.
    #[tool(
        name = "publish_note",
        output_schema = schema_for_output::<PublishReport>(),
        icons = icons::icon(icons::PUBLISH),
        annotations(title = "Publish note", destructive_hint = false)
    )]
    async fn publish_note(
        &self,
        Parameters(p): Parameters<PublishNoteParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let started = match self.prepare_publish(p).await {
            Ok(s) => s,
            Err(refusal) => return refusal,
        };
        let publisher = started.publisher.clone();
        // Publishing takes minutes: heartbeats keep clients that reset their time-out on
        // progress from giving up. The publish runs on its own task either way.
        let finished = started.finish();
        tokio::pin!(finished);
        let token = ctx.meta.get_progress_token();
        let begun = Instant::now();
        let mut beat =
            tokio::time::interval(self.state.options.heartbeat.max(Duration::from_millis(10)));
        beat.tick().await;
        let report = loop {
            tokio::select! {
                r = &mut finished => break r,
                _ = beat.tick() => {
                    if let Some(token) = token.clone() {
                        let secs = begun.elapsed().as_secs_f64();
                        let _ = ctx.peer.notify_progress(
                            ProgressNotificationParam::new(token, secs)
                                .with_message(format!("publishing to {publisher}: {secs:.0} s")),
                        ).await;
                    }
                }
            }
        };
        note_result(&report)
    }

    /// Can each publisher publish now? A logged-out Xiaohongshu account gets a login QR code.
    /// For Xiaohongshu: the service's health and the account's login; when logged out, a login QR code image to scan with the Xiaohongshu app (also saved as a file, with how long it is valid).
    #[tool(
        name = "publisher_status",
        output_schema = schema_for_output::<StatusList>(),
        icons = icons::icon(icons::PUBLISHER),
        annotations(title = "Publisher status", destructive_hint = false)
    )]
    async fn publisher_status(
        &self,
        Parameters(p): Parameters<PublisherStatusParams>,
    ) -> CallToolResult {
        let state = &self.state;
        let reports = match state
            .options
            .publishers
            .status(
                state.jobs.outputs(),
                p.publisher.as_deref(),
                p.login.unwrap_or(true),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => return refuse(e.to_string()),
        };
        let mut content = Vec::new();
        for r in &reports {
            content.push(ContentBlock::text(r.text()));
            if let Some(qr) = &r.qr {
                content.push(ContentBlock::image(qr.base64.clone(), qr.mime.clone()));
            }
        }
        with_structured(
            CallToolResult::success(content),
            &StatusList {
                publishers: reports,
            },
        )
    }

    /// List notes easel has sent, newest first, with their outcomes.
    /// Each with its publisher, outcome (published, unconfirmed, failed, unknown, pending), title, images and the service's answer.
    #[tool(
        name = "list_notes",
        output_schema = schema_for_output::<NoteList>(),
        icons = icons::icon(icons::NOTES),
        annotations(title = "List notes", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_notes(&self, Parameters(p): Parameters<ListNotesParams>) -> CallToolResult {
        let limit = p.limit.unwrap_or(20);
        if !(1..=200).contains(&limit) {
            return refuse(format!(
                "limit: {limit} is outside 1..=200. Ask for 1 to 200 notes."
            ));
        }
        let notes = match list_notes(&self.state.jobs, p.publisher.as_deref(), limit) {
            Ok(n) => n,
            Err(e) => return refuse(format!("easel could not read its job store: {e}")),
        };
        let mut text = format!("{} note(s):", notes.len());
        for n in &notes {
            text.push_str(&format!(
                "\n- {} {} to {} ({}): {:?}, {} image(s) — {}",
                crate::publish::format_time(n.created_at_ms),
                n.outcome.as_str(),
                n.publisher,
                n.kind,
                n.note.title,
                n.note.images.len(),
                n.message
            ));
        }
        with_structured(
            CallToolResult::success(vec![ContentBlock::text(text)]),
            &NoteList { notes },
        )
    }
}
