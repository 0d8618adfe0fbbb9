//! What a job is: the request, the backend's ticket, where it stands, and what it produced.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, Ticket};
use crate::outputs::{MediaClass, OutputFormat};
use crate::request::GenerateRequest;

/// Where a job stands. Terminal: succeeded, failed, cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

/// How far a job is. `fraction` never decreases.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobProgress {
    /// 0.0 to 1.0.
    pub fraction: f64,
    /// What is happening now, e.g. "ModelScope: 1 of 4 image(s) finished".
    pub message: String,
    /// Position in the backend's queue, when waiting there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
}

/// Where and how to save a job's images.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// Folder relative to the output root.
    pub dir: Option<String>,
    /// File name stem; the extension comes from the image type.
    pub stem: Option<String>,
    pub format: OutputFormat,
}

/// One image saved on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SavedImage {
    /// Position in the request (0-based).
    pub index: u32,
    /// Absolute path of the saved file.
    pub path: PathBuf,
    /// Where the backend served it, if it has a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The prompt the model actually used, when the service rewrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// Token usage of the call that made it, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<serde_json::Value>,
    /// A still image, an animation or a video.
    #[serde(default, skip_serializing_if = "MediaClass::is_still")]
    pub media: MediaClass,
}

/// A file easel is about to publish for one image, recorded before its name is taken: after
/// a crash at any point of the save, a file at `image.path` with this size and digest is
/// the image (adopted, not downloaded again); anything else there is someone else's file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingFile {
    /// The image as it will be recorded once saved.
    pub image: SavedImage,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// One image of a job that could not be made or saved, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageFailure {
    pub index: u32,
    pub seed: Option<u64>,
    pub error: BackendError,
}

/// A generation job, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub backend: String,
    pub request: GenerateRequest,
    pub output: OutputSpec,
    pub status: JobStatus,
    pub progress: JobProgress,
    /// Written before tracking starts.
    pub ticket: Option<Ticket>,
    pub images: Vec<SavedImage>,
    /// Files being published right now (see [`PendingFile`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_files: Vec<PendingFile>,
    pub failures: Vec<ImageFailure>,
    /// Why the whole job failed or was cancelled.
    pub error: Option<BackendError>,
    /// Things the caller should know, e.g. parameters the workflow had no place for.
    #[serde(default)]
    pub warnings: Vec<String>,
    pub idempotency_key: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub finished_at_ms: Option<u64>,
}

/// The prefix of the idempotency keys of batch lines: `batch:{batch_key}:{line}:{hash}`
/// (written by `batch::run::line_key`).
const BATCH_KEY_PREFIX: &str = "batch:";

impl Job {
    /// The batch this job is a line of, read from its idempotency key; `None` for a job
    /// asked for on its own.
    pub fn batch_key(&self) -> Option<&str> {
        batch_key_of(self.idempotency_key.as_deref()?)
    }
}

/// The batch key inside a batch line's idempotency key (the key itself may hold `:`, the
/// line number and the hash after it never do).
pub fn batch_key_of(idempotency_key: &str) -> Option<&str> {
    let rest = idempotency_key.strip_prefix(BATCH_KEY_PREFIX)?;
    let mut tail = rest.rsplitn(3, ':');
    let hash = tail.next()?;
    let line = tail.next()?;
    let key = tail.next()?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    (numeric(hash)
        && line.bytes().all(|b| b.is_ascii_digit())
        && !line.is_empty()
        && !key.is_empty())
    .then_some(key)
}

#[cfg(test)]
mod tests {
    use super::batch_key_of;

    #[test]
    fn a_batch_lines_key_names_its_batch() {
        assert_eq!(batch_key_of("batch:cats:3:00ff00ff00ff00ff"), Some("cats"));
        assert_eq!(batch_key_of("batch:a:b:12:0123abcd"), Some("a:b"));
        assert_eq!(batch_key_of("my-own-key"), None);
        assert_eq!(batch_key_of("batch:cats"), None);
        assert_eq!(batch_key_of("batch::3:ff"), None);
        assert_eq!(batch_key_of("batch:x:y:ff"), None, "the line is a number");
    }
}
