//! Every change of a job, as it happens, for pages that show jobs live (the gallery's event
//! stream): a broadcast fed where this process already tells the watchers of a running job
//! (the watch channels), on submit and on a cancel marked in the store; plus, while anyone
//! listens, the jobs another easel sharing the store changed, read from the store when it
//! says something changed (PostgreSQL) or about once a second (they have no channel here).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::broadcast;

use super::Jobs;
use super::model::Job;
use crate::clock::now_ms;

/// Changes a slow listener may fall behind by before it misses some (and is told so).
pub(super) const CAPACITY: usize = 1024;
/// How often the store is read for jobs other processes changed.
const STORE_POLL: Duration = Duration::from_secs(1);
/// How far back each look reaches: another process's clock, or a write stamped just before
/// our previous look and committed just after it, must not hide a change.
const SLACK_MS: u64 = 5_000;
/// Rows read per look; more wait for the next one.
const BATCH: usize = 500;

/// The sending side, kept in `Jobs`.
pub(super) struct Changes {
    tx: broadcast::Sender<Job>,
    polling: AtomicBool,
}

impl Changes {
    pub(super) fn new() -> Changes {
        Changes {
            tx: broadcast::channel(CAPACITY).0,
            polling: AtomicBool::new(false),
        }
    }

    /// Tells every listener; nobody listening is fine.
    pub(super) fn send(&self, job: &Job) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(job.clone());
        }
    }
}

impl Jobs {
    /// Every change of every job from now on: this process's jobs as they change, other
    /// processes' as the store shows them (about once a second). A listener that falls
    /// more than [`CAPACITY`] changes behind gets `Lagged` and should read the store again.
    pub fn subscribe(&self) -> broadcast::Receiver<Job> {
        let rx = self.inner.changes.tx.subscribe();
        if !self.inner.changes.polling.swap(true, Ordering::SeqCst) {
            tokio::spawn(poll_store(self.clone()));
        }
        rx
    }

    /// Whether the job runs in this process (its changes reach listeners directly).
    pub fn runs_here(&self, id: &str) -> bool {
        self.inner
            .live
            .lock()
            .is_ok_and(|live| live.contains_key(id))
    }
}

/// Reads the store for jobs changed by other processes while anyone listens; ends when the
/// last listener goes (the next `subscribe` starts it again).
async fn poll_store(jobs: Jobs) {
    let changes = &jobs.inner.changes;
    let mut mark = now_ms();
    // What was sent per job (its update time), so that the overlapping looks send each
    // change once. Entries older than the look's reach are dropped.
    let mut sent: HashMap<String, u64> = HashMap::new();
    // After a full batch, where the next look continues: just before the batch's last row
    // (not the slack window back, which would read the same first rows again and never
    // reach the rest of a burst of more than a batch).
    let mut resume: Option<u64> = None;
    // A store that tells (PostgreSQL's NOTIFY) wakes the look at once; the poll remains for
    // stores that do not, and for notifications lost with a connection.
    let mut told = jobs.inner.store.changes();
    loop {
        match told.as_mut() {
            Some(rx) => {
                if let Ok(false) = tokio::time::timeout(STORE_POLL, super::changed(rx, "")).await {
                    told = None;
                } else {
                    // One look covers every change told so far.
                    while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = rx.try_recv()
                    {
                    }
                }
            }
            None => tokio::time::sleep(STORE_POLL).await,
        }
        if changes.tx.receiver_count() == 0 {
            changes.polling.store(false, Ordering::SeqCst);
            // A subscriber that came between the count and the store starts its own poller.
            if changes.tx.receiver_count() == 0 || changes.polling.swap(true, Ordering::SeqCst) {
                return;
            }
        }
        let from = resume
            .take()
            .unwrap_or_else(|| mark.saturating_sub(SLACK_MS));
        // The mark never passes this look's own time: a row stamped ahead (another
        // machine's clock) would otherwise move it into the future and hide every later
        // change until the clock caught up. Such a row is read again each look, sent once.
        let looked_at = now_ms();
        let store = jobs.inner.store.clone();
        let found =
            match tokio::task::spawn_blocking(move || store.changed_since(from, BATCH)).await {
                Ok(Ok(found)) => found,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "could not read changed jobs from the store");
                    continue;
                }
                Err(_) => continue,
            };
        if found.len() >= BATCH {
            resume = found.last().map(|j| j.updated_at_ms.saturating_sub(1));
        }
        for job in found {
            mark = mark.max(job.updated_at_ms.min(looked_at));
            if sent.get(&job.id) == Some(&job.updated_at_ms) || jobs.runs_here(&job.id) {
                continue;
            }
            sent.insert(job.id.clone(), job.updated_at_ms);
            changes.send(&job);
        }
        let reach = mark.saturating_sub(SLACK_MS);
        sent.retain(|_, at| *at >= reach);
    }
}
