//! Waiting for a job on behalf of a tool call (ARCHITECTURE.md decision 2): up to a budget, sending
//! `notifications/progress` when the client asked for them, with a heartbeat so that clients
//! which reset their time-out on progress keep the call alive, and stopping (without
//! stopping the job) when the client cancels the request.

use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RoleServer};
use tokio_util::sync::CancellationToken;

use crate::jobs::{Followed, Job, Jobs, StoreError};

/// Sends strictly increasing progress values (the protocol requires it): the job's share of
/// work in percent, nudged up by a hair when only the message changed or for a heartbeat.
struct Reporter {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    last: f64,
    last_message: String,
}

impl Reporter {
    async fn report(&mut self, job: &Job, heartbeat: bool) {
        let Some(token) = self.token.clone() else {
            return;
        };
        let value = job.progress.fraction * 100.0;
        if !heartbeat && value <= self.last && job.progress.message == self.last_message {
            return;
        }
        let value = value.max(self.last + 0.001).min(100.0);
        if value <= self.last {
            return;
        }
        self.last = value;
        self.last_message = job.progress.message.clone();
        let message = match job.progress.queue_position {
            Some(p) => format!("{} (position {p} in queue)", job.progress.message),
            None => job.progress.message.clone(),
        };
        let param = ProgressNotificationParam::new(token, value)
            .with_total(100.0)
            .with_message(message);
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not delivered");
        }
    }
}

/// Waits up to `budget` for job `id`. Returns the job as it is when it ends, the budget
/// runs out, or the client cancels; `None` if no such job exists.
pub async fn wait_reporting(
    jobs: &Jobs,
    id: &str,
    budget: Duration,
    heartbeat: Duration,
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    cancelled: CancellationToken,
) -> Result<Option<Job>, StoreError> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut rx = tokio::select! {
        followed = jobs.follow(id, deadline) => match followed? {
            Followed::Gone => return Ok(None),
            Followed::Settled(job) => return Ok(Some(*job)),
            Followed::Live(rx) => rx,
        },
        _ = cancelled.cancelled() => return jobs.get(id),
    };
    let mut reporter = Reporter {
        peer,
        token,
        last: -1.0,
        last_message: String::new(),
    };
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    loop {
        let job = rx.borrow_and_update().clone();
        if job.status.is_terminal() {
            return Ok(Some(job));
        }
        reporter.report(&job, false).await;
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return jobs.get(id); },
            _ = beat.tick() => reporter.report(&job, true).await,
            _ = tokio::time::sleep_until(deadline) => return Ok(Some(job)),
            _ = cancelled.cancelled() => {
                tracing::info!(job = id, "client cancelled the request; the job keeps running");
                return Ok(Some(job));
            }
        }
    }
}
