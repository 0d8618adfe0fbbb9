//! The one way a job is recorded as cancelled, whether the process running it stops it or
//! `cancel` finds it in the store with no process running it: the same note, in the same
//! fields, so that every reader (results, tasks, `easel jobs`) tells the same story.

use super::model::{Job, JobStatus};
use crate::backend::{Backend, BackendError, CancelOutcome, ErrorKind, Ticket};

/// Cancels `ticket` at `backend` when the job got that far, and says what happened.
pub(super) async fn stop_at_backend(
    ticket: Option<&Ticket>,
    backend: Option<&dyn Backend>,
) -> String {
    match (ticket, backend) {
        (Some(ticket), Some(backend)) => match backend.cancel(ticket).await {
            CancelOutcome::Cancelled => format!("cancelled at {}", backend.name()),
            CancelOutcome::NotSupported(why) => format!("cancelled in easel; {why}"),
        },
        _ => "cancelled before it was submitted".to_string(),
    }
}

/// Marks `job` cancelled, with `note` as both its progress message and its error.
pub(super) fn mark(job: &mut Job, note: String) {
    job.status = JobStatus::Cancelled;
    job.progress.message = note.clone();
    job.error = Some(BackendError::new(ErrorKind::Cancelled, note));
}
