//! Stopping the process without splitting a step that a restart cannot redo cleanly.
//!
//! A job stopped while its backend tracks it is resumed from its stored ticket, so it may
//! stop at any moment there. Two steps are different: sending the submit and storing the
//! ticket (stopped in between, a restart cannot know whether the backend has the job), and
//! saving an image and recording it (stopped in between, a restart saves it a second time).
//! A graceful shutdown waits, for a bounded time, until no job of this process is in either.

use std::time::Duration;

use super::Jobs;
use super::model::JobStatus;
use super::run::{SUBMITTED, TRACKED};

/// How often the live jobs are looked at while waiting.
const LOOK: Duration = Duration::from_millis(50);

impl Jobs {
    /// Jobs running here that are submitting or saving right now.
    pub fn mid_step(&self) -> usize {
        let Ok(live) = self.inner.live.lock() else {
            return 0;
        };
        live.values()
            .filter(|l| {
                let job = l.tx.borrow();
                job.status == JobStatus::Running
                    && (job.progress.fraction < SUBMITTED || job.progress.fraction >= TRACKED)
            })
            .count()
    }

    /// Waits up to `grace` until [`Jobs::mid_step`] is zero; returns how many still are.
    /// Every other job is left to be resumed by the next easel that serves this data dir.
    pub async fn settle(&self, grace: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + grace;
        let mut told = false;
        loop {
            let busy = self.mid_step();
            if busy == 0 || tokio::time::Instant::now() >= deadline {
                return busy;
            }
            if !told {
                tracing::info!(
                    jobs = busy,
                    "waiting for jobs to finish submitting or saving before exit"
                );
                told = true;
            }
            tokio::time::sleep(LOOK.min(deadline - tokio::time::Instant::now())).await;
        }
    }
}
