//! Following one ModelScope task to its end: adaptive polls, a total time-out, progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::wire::{TaskAnswer, TaskState};

/// Polls in a row a task may report a status easel does not know before easel gives up on
/// it, rather than waiting out the whole time-out on a state it cannot read: about 30 s on
/// the default poll schedule, long enough to ride out a brief new in-progress state.
const UNKNOWN_STATUS_POLLS: u32 = 12;
use super::{ModelScope, TaskEntry, answer};
use crate::backend::{
    BackendError, ErrorKind, EventSink, ImageOutcome, PollSchedule, Progress, RemoteImage, http,
};

/// Shared by the tasks of one ticket, so that progress counts finished images.
pub struct Tracker<'a> {
    backend: &'a ModelScope,
    token: &'a SecretString,
    deadline: Instant,
    timeout: Duration,
    total: u64,
    finished: AtomicU64,
    events: EventSink,
}

impl<'a> Tracker<'a> {
    pub fn new(
        backend: &'a ModelScope,
        token: &'a SecretString,
        remaining: Duration,
        total: u64,
        events: EventSink,
    ) -> Self {
        Tracker {
            backend,
            token,
            deadline: Instant::now() + remaining,
            timeout: backend.settings.timeout,
            total,
            finished: AtomicU64::new(0),
            events,
        }
    }

    pub async fn follow(&self, task: &TaskEntry) -> ImageOutcome {
        let outcome = match (&task.task_id, &task.error) {
            (_, Some(e)) => Err(e.clone()),
            (Some(id), None) => self.poll_until_done(id, task).await,
            (None, None) => Err(BackendError::new(
                ErrorKind::Protocol,
                "ticket entry without a task id",
            )),
        };
        let done = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        self.events.send(Progress {
            done,
            total: Some(self.total),
            queue_position: None,
            message: format!("ModelScope: {done} of {} image(s) finished", self.total),
        });
        outcome
    }

    async fn poll_until_done(&self, task_id: &str, task: &TaskEntry) -> ImageOutcome {
        let s = &self.backend.settings;
        let mut schedule = PollSchedule::new(s.poll_initial, s.poll_max);
        let mut polls = 0u32;
        let mut last_status = String::new();
        // Polls in a row that reported a status easel does not know.
        let mut unknown_polls = 0u32;
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                return Err(BackendError::new(
                    ErrorKind::Timeout,
                    format!(
                        "ModelScope task {task_id} did not finish within {} s ({polls} polls). It may still finish at ModelScope; raise modelscope.timeout_secs (EASEL_MODELSCOPE_TIMEOUT_SECS) for slow models, or try a faster model such as Tongyi-MAI/Z-Image-Turbo.",
                        self.timeout.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(schedule.next_delay().min(self.deadline - now)).await;
            if Instant::now() >= self.deadline {
                continue;
            }
            polls += 1;
            let answer = self.poll(task_id).await?;
            match answer.state() {
                TaskState::Succeeded => {
                    tracing::info!(task_id, polls, "ModelScope task succeeded");
                    let url = answer
                        .output_images
                        .unwrap_or_default()
                        .into_iter()
                        .find(|u| !u.trim().is_empty())
                        .ok_or_else(|| {
                            BackendError::new(
                                ErrorKind::Failed,
                                format!("ModelScope task {task_id} succeeded but returned no output images; generate again."),
                            )
                        })?;
                    return Ok(RemoteImage {
                        index: task.index,
                        seed: Some(task.seed),
                        seedless: false,
                        url: Some(url),
                        revised_prompt: None,
                        usage: None,
                    });
                }
                TaskState::Failed => {
                    let why = answer.reason().unwrap_or_else(|| {
                        "ModelScope gave no reason; try again, or another model or prompt".into()
                    });
                    return Err(BackendError::new(
                        ErrorKind::Failed,
                        format!("ModelScope task {task_id} failed: {why}"),
                    )
                    .with_request_id(answer.request_id()));
                }
                TaskState::Unknown(status) => {
                    unknown_polls += 1;
                    if unknown_polls >= UNKNOWN_STATUS_POLLS {
                        return Err(BackendError::new(
                            ErrorKind::Protocol,
                            format!(
                                "ModelScope task {task_id} reported status {status:?}, which easel does not know, on {unknown_polls} polls in a row; easel stopped waiting. It may still finish at ModelScope: check the task there, or generate again."
                            ),
                        )
                        .with_request_id(answer.request_id()));
                    }
                    if status != last_status {
                        tracing::warn!(task_id, %status, "ModelScope reports an unknown task status; still polling");
                        self.events.send(Progress {
                            done: self.finished.load(Ordering::SeqCst),
                            total: Some(self.total),
                            queue_position: None,
                            message: format!(
                                "ModelScope: task {task_id} reports an unknown status {status:?}; still waiting"
                            ),
                        });
                        last_status = status;
                    }
                }
                TaskState::Queued | TaskState::Running(_) => {
                    unknown_polls = 0;
                    let status = answer.task_status.clone().unwrap_or_default();
                    tracing::debug!(task_id, polls, %status, "ModelScope task in progress");
                    if status != last_status {
                        self.events.send(Progress {
                            done: self.finished.load(Ordering::SeqCst),
                            total: Some(self.total),
                            queue_position: None,
                            message: format!(
                                "ModelScope: {} of {} image(s) finished; task {task_id} is {status}",
                                self.finished.load(Ordering::SeqCst),
                                self.total
                            ),
                        });
                        last_status = status;
                    }
                }
            }
        }
    }

    async fn poll(&self, task_id: &str) -> Result<TaskAnswer, BackendError> {
        let b = self.backend;
        let url = b.url(&format!("v1/tasks/{task_id}"));
        let resp = http::send_retrying(b.retry(true), || {
            b.http
                .get(&url)
                .bearer_auth(self.token.expose_secret())
                .header("X-ModelScope-Task-Type", "image_generation")
        })
        .await
        .map_err(|e| answer::unreachable(&b.settings.base_url, &e))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(BackendError::new(
                ErrorKind::Failed,
                format!("ModelScope no longer knows task {task_id} (404); generate again."),
            ));
        }
        answer::parse(resp, "").await
    }
}
