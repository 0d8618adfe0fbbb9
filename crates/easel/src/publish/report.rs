//! What publish_note and publisher_status report: structured values for programs and one
//! text for people, which always leads with the outcome in capitals when it is not a
//! confirmed success, so nobody mistakes "unconfirmed" for "done".

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::config::PublisherSettings;
use crate::jobs::{NoteContent, NoteOutcome, NoteRecord};
use crate::outputs::OutputRoot;

use super::Delivery;
use super::wire::shown;

/// Said of every outcome that is not a confirmed success.
pub const NOT_IDEMPOTENT: &str = "check the account before retrying — publishing is not idempotent";

/// The result of one publish.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PublishReport {
    /// easel's record of this publish (list_notes shows it).
    pub record_id: String,
    pub publisher: String,
    /// xiaohongshu, webhook or draft.
    pub kind: String,
    /// published (confirmed), unconfirmed, failed (not published) or unknown (no answer).
    pub outcome: NoteOutcome,
    /// True only when the service confirmed the note.
    pub published: bool,
    /// One line on what happened.
    pub summary: String,
    /// What the service's answer means, in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// What to do now, when something is to be done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    /// The note as sent (images as absolute paths or URLs).
    pub note: NoteContent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The service's answer, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Value>,
    /// The draft folder, for draft publishers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl PublishReport {
    pub(crate) fn new(record: &NoteRecord, d: Delivery, warnings: Vec<String>) -> PublishReport {
        let next_step = match d.outcome {
            NoteOutcome::Published | NoteOutcome::Pending => None,
            NoteOutcome::Unconfirmed | NoteOutcome::Unknown => Some(format!(
                "Do not publish this note again yet: {NOT_IDEMPOTENT}. Look for it in the Xiaohongshu app or creator centre (or the receiving system)."
            )),
            NoteOutcome::Failed => {
                Some("It was not published. Fix what the meaning says, then publish again.".into())
            }
        };
        PublishReport {
            record_id: record.id.clone(),
            publisher: record.publisher.clone(),
            kind: record.kind.clone(),
            outcome: d.outcome,
            published: d.outcome == NoteOutcome::Published,
            summary: d.summary,
            explanation: d.explanation,
            next_step,
            note: record.note.clone(),
            http_status: d.http_status,
            answer: d.answer,
            location: d.location,
            warnings,
        }
    }

    /// A publish as its record in the job store tells it, for a reader that was not its
    /// caller (an MCP task read later, or by another easel). The service's answer is kept;
    /// its English meaning and the HTTP status are not stored, so they are absent.
    pub fn recorded(record: &NoteRecord) -> PublishReport {
        let folder = (record.kind == "draft")
            .then(|| {
                record
                    .answer
                    .as_ref()?
                    .get("folder")?
                    .as_str()
                    .map(str::to_string)
            })
            .flatten();
        let delivery = Delivery {
            outcome: record.outcome,
            summary: record.message.clone(),
            explanation: None,
            http_status: None,
            answer: record.answer.clone().filter(|_| folder.is_none()),
            location: folder,
        };
        PublishReport::new(record, delivery, Vec::new())
    }

    /// The publish task itself failed (a bug): nobody knows what was sent.
    pub(crate) fn crashed(record_id: &str, publisher: &str, why: &str) -> PublishReport {
        PublishReport {
            record_id: record_id.to_string(),
            publisher: publisher.to_string(),
            kind: String::new(),
            outcome: NoteOutcome::Unknown,
            published: false,
            summary: format!("the publish task stopped unexpectedly ({why})"),
            explanation: None,
            next_step: Some(format!("Do not publish again yet: {NOT_IDEMPOTENT}.")),
            note: NoteContent::default(),
            http_status: None,
            answer: None,
            location: None,
            warnings: Vec::new(),
        }
    }

    pub fn text(&self) -> String {
        let mut out = match self.outcome {
            NoteOutcome::Published => format!("Published: {}", self.summary),
            NoteOutcome::Unconfirmed => format!(
                "UNCONFIRMED (not a confirmed success): the service answered without confirming; {NOT_IDEMPOTENT}.\n{}",
                self.summary
            ),
            NoteOutcome::Failed => format!("NOT PUBLISHED: {}", self.summary),
            NoteOutcome::Unknown | NoteOutcome::Pending => format!(
                "UNKNOWN whether it was published: {}\nThe service may still post it; {NOT_IDEMPOTENT}.",
                self.summary
            ),
        };
        if let Some(e) = &self.explanation {
            out.push_str(&format!("\nMeaning: {e}"));
        }
        if self.outcome != NoteOutcome::Published
            && let Some(a) = &self.answer
        {
            let status = self
                .http_status
                .map_or(String::new(), |s| format!("HTTP {s}: "));
            out.push_str(&format!("\nService answer: {status}{}", shown(a)));
        }
        out.push_str(&format!(
            "\nNote: {:?}, {} image(s), {} tag(s)",
            self.note.title,
            self.note.images.len(),
            self.note.tags.len()
        ));
        if let Some(at) = &self.note.schedule_at {
            out.push_str(&format!(", scheduled for {at}"));
        }
        if let Some(v) = &self.note.visibility {
            out.push_str(&format!(", visibility {v}"));
        }
        if let Some(dir) = &self.location {
            out.push_str(&format!("\nFolder: {dir}"));
        }
        if let Some(next) = &self.next_step {
            out.push_str(&format!("\n{next}"));
        }
        for w in &self.warnings {
            out.push_str(&format!("\nWarning: {w}"));
        }
        out.push_str(&format!("\nrecord_id: {}", self.record_id));
        out
    }
}

/// A login QR code, saved under the output root.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct QrCode {
    /// Absolute path of the saved image.
    pub path: String,
    pub mime: String,
    /// How long the code stays valid, as the service said ("4m0s" = 240).
    pub valid_seconds: u64,
    /// When it stops being valid (UTC, RFC 3339).
    pub expires_at: String,
    /// The image, for the inline content block.
    #[serde(skip)]
    pub base64: String,
}

/// Whether one publisher can publish now.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StatusReport {
    pub publisher: String,
    /// xiaohongshu, webhook or draft.
    pub kind: String,
    /// True when a publish could be sent now.
    pub ready: bool,
    /// logged_in, logged_out, unreachable, unauthorized, error, configured (webhook) or ready (draft).
    pub state: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The service's version, when it reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// A login QR code to scan with the Xiaohongshu app, when logged out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<QrCode>,
    /// The service's answer, when it explains a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Value>,
}

impl StatusReport {
    pub(crate) fn base(p: &PublisherSettings, state: &str, ready: bool, summary: String) -> Self {
        StatusReport {
            publisher: p.name.clone(),
            kind: p.kind().as_str().to_string(),
            ready,
            state: state.to_string(),
            summary,
            url: None,
            version: None,
            username: None,
            user_id: None,
            qr: None,
            answer: None,
        }
    }

    /// A webhook: no contract offers a health check, so only the configuration is known.
    pub(crate) fn configured(p: &PublisherSettings, url: &str) -> Self {
        let mut r = Self::base(
            p,
            "configured",
            true,
            format!("webhook posting to {url} (not checked: webhooks have no status route)"),
        );
        r.url = Some(url.to_string());
        r
    }

    pub(crate) fn draft(p: &PublisherSettings, outputs: &OutputRoot, dir: &str) -> Self {
        let folder = outputs.path().join(dir);
        Self::base(
            p,
            "ready",
            true,
            format!(
                "drafts are written to {}/<time>-<title>/ for posting by hand",
                folder.display()
            ),
        )
    }

    pub fn text(&self) -> String {
        let mark = if self.ready { "ready" } else { "NOT READY" };
        let mut out = format!(
            "{} ({}, {mark}): {}",
            self.publisher, self.kind, self.summary
        );
        if let Some(qr) = &self.qr {
            out.push_str(&format!(
                "\nScan the QR code below with the Xiaohongshu app within {} s (until {}). Also saved at {}. Then call publisher_status again (with login false) to confirm; asking for a new code cancels this one.",
                qr.valid_seconds, qr.expires_at, qr.path
            ));
        }
        if let Some(a) = &self.answer {
            out.push_str(&format!("\nService answer: {}", shown(a)));
        }
        out
    }
}
