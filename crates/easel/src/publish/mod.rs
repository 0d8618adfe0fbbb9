//! Publishing notes: images easel saved, with a title, body and tags, sent to a configured
//! publisher — a xiaohongshu-mcp service (one per account), a webhook, or a draft folder.
//!
//! Three rules shape this module (ARCHITECTURE.md#publish):
//! - everything checkable is checked before sending, all violations at once;
//! - success is claimed only when the service confirms it; an answer without confirmation
//!   is "unconfirmed" and a missing answer "unknown", never success;
//! - a publish is never retried, runs on its own task (a caller that stops waiting does not
//!   abort a half-posted note), one at a time per publisher, and is recorded in the job
//!   store before it is sent.

mod describe;
mod draft;
mod explain;
mod images;
mod record;
mod report;
pub mod rules;
mod webhook;
mod wire;
mod xiaohongshu;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::config::{PublisherSettings, PublisherTarget, PublishingSettings};
use crate::jobs::{JobStore, Jobs, NoteContent, NoteOutcome};
use crate::outputs::{InputRoots, OutputRoot};
use crate::request::InvalidInput;

pub use describe::describe_note;
pub use images::NoteImage;
pub use report::{PublishReport, QrCode, StatusReport};

/// What a caller asks to publish, as given.
#[derive(Clone, Debug, Default)]
pub struct NoteInput {
    pub publisher: Option<String>,
    pub title: String,
    pub content: String,
    pub images: Vec<String>,
    pub tags: Vec<String>,
    pub schedule_at: Option<String>,
    pub visibility: Option<String>,
}

/// A note that passed every check: what would be sent, and to whom.
#[derive(Clone, Debug)]
pub struct CheckedNote {
    pub publisher: PublisherSettings,
    pub note: NoteContent,
    pub images: Vec<NoteImage>,
}

/// Why nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("Nothing was sent: {} problem(s) with the note:\n{}", .0.len(), lines(.0))]
    Refused(Vec<InvalidInput>),
    #[error("Nothing was sent: easel could not record the note in its job store ({0}).")]
    Store(String),
}

fn lines(v: &[InvalidInput]) -> String {
    v.iter()
        .map(|e| format!("- {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a publisher's attempt came to.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    pub outcome: NoteOutcome,
    /// One line, starting with what happened.
    pub summary: String,
    /// What the service's words mean and what to do, in English.
    pub explanation: Option<String>,
    pub http_status: Option<u16>,
    /// The service's body (JSON, or text as a JSON string).
    pub answer: Option<serde_json::Value>,
    /// The draft folder.
    pub location: Option<String>,
}

/// A publish on its way: sent on its own task, so it finishes (and is recorded) even if
/// the caller stops waiting.
pub struct Publishing {
    pub record_id: String,
    pub publisher: String,
    pub kind: crate::config::PublisherKind,
    handle: JoinHandle<PublishReport>,
}

impl Publishing {
    pub async fn finish(self) -> PublishReport {
        match self.handle.await {
            Ok(report) => report,
            Err(e) => PublishReport::crashed(&self.record_id, &self.publisher, &e.to_string()),
        }
    }
}

struct Inner {
    settings: PublishingSettings,
    /// One publish at a time per publisher: xiaohongshu-mcp has no queue, and two
    /// browsers on one account step on each other (contract 1, 7.4).
    locks: HashMap<String, Arc<Mutex<()>>>,
}

/// The configured publishers. Cheap to clone; clones share the per-publisher locks.
#[derive(Clone)]
pub struct Publishers {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Publishers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publishers")
            .field("settings", &self.inner.settings)
            .finish()
    }
}

impl Default for Publishers {
    fn default() -> Self {
        Publishers::new(PublishingSettings::default())
    }
}

impl Publishers {
    pub fn new(settings: PublishingSettings) -> Publishers {
        let locks = settings
            .publishers
            .iter()
            .map(|p| (p.name.clone(), Arc::new(Mutex::new(()))))
            .collect();
        Publishers {
            inner: Arc::new(Inner { settings, locks }),
        }
    }

    pub fn settings(&self) -> &PublishingSettings {
        &self.inner.settings
    }

    fn names(&self) -> String {
        self.inner
            .settings
            .publishers
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The publisher `name` names, or the default one.
    pub fn pick(&self, name: Option<&str>) -> Result<PublisherSettings, InvalidInput> {
        let s = &self.inner.settings;
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => s.default_publisher.as_deref().ok_or_else(|| {
                InvalidInput::new(
                    "publisher",
                    "not given, and several publishers are configured without a default_publisher",
                    format!("Name one of: {}.", self.names()),
                )
            })?,
        };
        s.publishers
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| {
                InvalidInput::new(
                    "publisher",
                    format!("{name:?} is not configured"),
                    format!("Use one of: {}.", self.names()),
                )
            })
    }

    /// Checks the note, records it as pending and starts sending it. Every problem found
    /// before sending comes back at once, one line each.
    pub async fn publish(
        &self,
        jobs: &Jobs,
        input_dirs: &[PathBuf],
        input: NoteInput,
    ) -> Result<Publishing, PublishError> {
        let checked = self.check(jobs, input_dirs, input).await?;
        self.send(jobs, checked)
    }

    /// Everything `publish` checks before sending, without recording or sending anything:
    /// the note as it would go out, or every problem with it.
    pub async fn check(
        &self,
        jobs: &Jobs,
        input_dirs: &[PathBuf],
        input: NoteInput,
    ) -> Result<CheckedNote, PublishError> {
        let mut problems = Vec::new();
        let publisher = self
            .pick(input.publisher.as_deref())
            .map_err(|e| problems.push(e))
            .ok();
        rules::check_title(&input.title, &mut problems);
        rules::check_content(&input.content, &mut problems);
        let tags = rules::clean_tags(&input.tags, &mut problems);
        let now = now_ms() as i64;
        let schedule_at = input
            .schedule_at
            .as_deref()
            .and_then(|s| rules::check_schedule(s, now, &mut problems));
        let visibility = input
            .visibility
            .as_deref()
            .and_then(|v| rules::check_visibility(v, &mut problems));
        let (resolved, image_problems) = {
            let roots = InputRoots::new(jobs.outputs().clone(), input_dirs);
            let (jobs, names) = (jobs.clone(), input.images.clone());
            tokio::task::spawn_blocking(move || images::resolve(&jobs, &roots, &names))
                .await
                .map_err(|e| PublishError::Store(format!("checking images was interrupted: {e}")))?
        };
        // Counted after job ids expanded; names that failed still count toward the limit.
        let count = if image_problems.is_empty() {
            resolved.len()
        } else {
            resolved.len().max(input.images.len())
        };
        rules::check_image_count(count, &mut problems);
        problems.extend(image_problems);
        let Some(publisher) = publisher.filter(|_| problems.is_empty()) else {
            return Err(PublishError::Refused(problems));
        };
        let note = NoteContent {
            title: input.title,
            content: input.content,
            tags,
            images: resolved.iter().map(NoteImage::sent).collect(),
            schedule_at,
            visibility,
        };
        Ok(CheckedNote {
            publisher,
            note,
            images: resolved,
        })
    }

    /// Records a checked note as pending and starts sending it on its own task.
    fn send(&self, jobs: &Jobs, checked: CheckedNote) -> Result<Publishing, PublishError> {
        let CheckedNote {
            publisher,
            note,
            images: resolved,
        } = checked;
        let store = jobs.store().clone();
        let pending = record::pending(&publisher, &note);
        store
            .record_note(&pending)
            .map_err(|e| PublishError::Store(e.to_string()))?;
        let lock = self
            .inner
            .locks
            .get(&publisher.name)
            .cloned()
            .unwrap_or_default();
        let outputs = jobs.outputs().clone();
        let record_id = pending.id.clone();
        let name = publisher.name.clone();
        let kind = publisher.kind();
        let handle = tokio::spawn(async move {
            let _turn = lock.lock().await;
            let delivery = deliver(&publisher, &note, &resolved, &outputs).await;
            finish(store.as_ref(), pending, delivery)
        });
        Ok(Publishing {
            record_id,
            publisher: name,
            kind,
            handle,
        })
    }

    /// Whether each publisher (or the one named) can publish now. For a logged-out
    /// xiaohongshu account, and when `login` allows, a login QR code is fetched and saved.
    pub async fn status(
        &self,
        outputs: &OutputRoot,
        name: Option<&str>,
        login: bool,
    ) -> Result<Vec<StatusReport>, InvalidInput> {
        let chosen: Vec<PublisherSettings> = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(_) => vec![self.pick(name)?],
            None => self.inner.settings.publishers.clone(),
        };
        let mut out = Vec::new();
        for p in &chosen {
            out.push(match &p.target {
                PublisherTarget::Xiaohongshu { .. } => xiaohongshu::status(p, outputs, login).await,
                PublisherTarget::Webhook { url, .. } => StatusReport::configured(p, url),
                PublisherTarget::Draft { dir } => StatusReport::draft(p, outputs, dir),
            });
        }
        Ok(out)
    }
}

async fn deliver(
    publisher: &PublisherSettings,
    note: &NoteContent,
    images: &[NoteImage],
    outputs: &OutputRoot,
) -> Delivery {
    match &publisher.target {
        PublisherTarget::Xiaohongshu { .. } => xiaohongshu::publish(publisher, note).await,
        PublisherTarget::Webhook { .. } => webhook::publish(publisher, note).await,
        PublisherTarget::Draft { dir } => {
            draft::write(outputs, dir, &publisher.name, note, images).await
        }
    }
}

/// Records the outcome and builds the report. A failure to record is a warning: the
/// publish itself already happened (or not) and must be reported as it was.
fn finish(
    store: &dyn JobStore,
    pending: crate::jobs::NoteRecord,
    delivery: Delivery,
) -> PublishReport {
    let done = record::finished(pending, &delivery);
    let mut warnings = Vec::new();
    if let Err(e) = store.record_note(&done) {
        tracing::error!(note = %done.id, error = %e, "could not record a publish outcome");
        warnings.push(format!(
            "easel could not record this outcome in its job store ({e}); the record still says pending"
        ));
    }
    PublishReport::new(&done, delivery, warnings)
}

/// Shared by every tool and command that lists published notes.
pub fn list_notes(
    jobs: &Jobs,
    publisher: Option<&str>,
    limit: usize,
) -> Result<Vec<crate::jobs::NoteRecord>, crate::jobs::StoreError> {
    // Filtering after the query keeps the store trait small; note volumes are tiny
    // (tens a day at most, contract 5.3).
    let all = jobs.store().list_notes(if publisher.is_some() {
        limit.saturating_mul(20).max(500)
    } else {
        limit
    })?;
    Ok(all
        .into_iter()
        .filter(|n| publisher.is_none_or(|p| n.publisher == p))
        .take(limit)
        .collect())
}

/// `2026-09-01T10:30:00Z` for milliseconds since the epoch, for listings.
pub fn format_time(ms: u64) -> String {
    crate::clock::format_utc(ms)
}
