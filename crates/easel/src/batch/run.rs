//! Running a batch in the background and reporting where it stands.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, watch};

use super::parse::{BadLine, Line};
use crate::jobs::{Job, JobStatus, Jobs, NewJob};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// Where one line stands.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct LineResult {
    /// Line number in the file (1-based), or position in the list.
    pub line: usize,
    pub prompt: String,
    pub status: LineStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Absolute paths of the saved files.
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether an earlier run with the same batch key had already submitted this line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BatchState {
    pub batch_key: String,
    pub lines: Vec<LineResult>,
    pub done: bool,
}

impl BatchState {
    pub fn count(&self, status: LineStatus) -> usize {
        self.lines.iter().filter(|l| l.status == status).count()
    }

    pub fn finished(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| !matches!(l.status, LineStatus::Pending | LineStatus::Running))
            .count()
    }
}

/// A running batch; the state updates as lines finish.
pub struct Batch {
    pub state: watch::Receiver<BatchState>,
}

/// FNV-1a: a stable hash (std's is randomized per process) so a re-run derives the same
/// idempotency keys.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A line as its job stands (the job's id, status, files and error).
pub(super) fn apply_job(r: &mut LineResult, job: &Job) {
    r.job_id = Some(job.id.clone());
    r.files = job
        .images
        .iter()
        .map(|i| i.path.display().to_string())
        .collect();
    r.status = match job.status {
        JobStatus::Succeeded => LineStatus::Succeeded,
        JobStatus::Cancelled => LineStatus::Cancelled,
        JobStatus::Failed => LineStatus::Failed,
        JobStatus::Queued | JobStatus::Running => LineStatus::Running,
    };
    r.error = job.error.as_ref().map(|e| format!("line {}: {e}", r.line));
}

/// The idempotency key of one line's job: the same batch key, line and parameters always
/// name the same job, so a batch run again (or resumed) pays for nothing twice.
pub fn line_key(key: &str, line: &Line, defaults: &Map<String, Value>) -> String {
    let defaults_text = serde_json::to_string(defaults).unwrap_or_default();
    let fingerprint = format!(
        "{}|{}|{defaults_text}",
        line.prompt,
        serde_json::to_string(&line.overrides).unwrap_or_default()
    );
    format!(
        "batch:{key}:{}:{:016x}",
        line.number,
        stable_hash(&fingerprint)
    )
}

/// Turns one line into a job request; errors are the line's own.
pub type BuildJob = Arc<dyn Fn(&Line) -> Result<NewJob, String> + Send + Sync>;

/// Starts the batch. `defaults` feeds the idempotency keys, so that changing a shared
/// parameter makes new jobs rather than returning old ones.
pub fn start(
    jobs: Jobs,
    key: String,
    lines: Vec<Line>,
    bad: Vec<BadLine>,
    defaults: &Map<String, Value>,
    concurrency: usize,
    build: BuildJob,
) -> Batch {
    let results = initial(&lines, &bad);
    let (tx, rx) = watch::channel(BatchState {
        batch_key: key.clone(),
        lines: results,
        done: false,
    });
    let defaults = defaults.clone();
    tokio::spawn(async move {
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        let tx = &tx;
        join_all(lines.into_iter().map(|line| {
            let (gate, jobs, build, key, defaults) = (
                gate.clone(),
                jobs.clone(),
                build.clone(),
                key.clone(),
                &defaults,
            );
            async move { run_line(line, gate, jobs, build, &key, defaults, tx).await }
        }))
        .await;
        tx.send_modify(|s| s.done = true);
    });
    Batch { state: rx }
}

/// Every line pending, and every unreadable line failed with its reason, in line order.
pub(super) fn initial(lines: &[Line], bad: &[BadLine]) -> Vec<LineResult> {
    let mut results: Vec<LineResult> = lines
        .iter()
        .map(|l| LineResult {
            line: l.number,
            prompt: l.prompt.clone(),
            status: LineStatus::Pending,
            job_id: None,
            files: Vec::new(),
            error: None,
            reused: false,
        })
        .chain(bad.iter().map(|b| LineResult {
            line: b.number,
            prompt: String::new(),
            status: LineStatus::Failed,
            job_id: None,
            files: Vec::new(),
            error: Some(format!("line {}: {}", b.number, b.reason)),
            reused: false,
        }))
        .collect();
    results.sort_by_key(|r| r.line);
    results
}

/// Runs one line: its turn at the gate, its job submitted (or found, by its idempotency
/// key), then followed to its end.
async fn run_line(
    line: Line,
    gate: Arc<Semaphore>,
    jobs: Jobs,
    build: BuildJob,
    key: &str,
    defaults: &Map<String, Value>,
    tx: &watch::Sender<BatchState>,
) {
    let Ok(_slot) = gate.acquire().await else {
        return;
    };
    let set = |f: &dyn Fn(&mut LineResult)| {
        tx.send_modify(|s| {
            if let Some(r) = s.lines.iter_mut().find(|r| r.line == line.number) {
                f(r);
            }
        })
    };
    let mut new = match build(&line) {
        Ok(new) => new,
        Err(e) => {
            set(&|r| {
                r.status = LineStatus::Failed;
                r.error = Some(format!("line {}: {e}", line.number));
            });
            return;
        }
    };
    new.idempotency_key = Some(line_key(key, &line, defaults));
    let submitted = match jobs.submit(new) {
        Ok(s) => s,
        Err(e) => {
            let e = e.to_string();
            set(&|r| {
                r.status = LineStatus::Failed;
                r.error = Some(format!("line {}: {e}", line.number));
            });
            return;
        }
    };
    let id = submitted.job.id.clone();
    set(&|r| {
        r.status = LineStatus::Running;
        r.job_id = Some(id.clone());
        r.reused = submitted.existing;
    });
    // The backend's own time-out bounds the job; this only has to outlast it.
    let done = jobs.wait(&id, Duration::from_secs(24 * 3600), |_| {}).await;
    let job = match done {
        Ok(Some(job)) => job,
        other => {
            let e = match other {
                Err(e) => e.to_string(),
                _ => "the job vanished".into(),
            };
            set(&|r| {
                r.status = LineStatus::Failed;
                r.error = Some(format!("line {}: {e}", line.number));
            });
            return;
        }
    };
    set(&|r| apply_job(r, &job));
}
