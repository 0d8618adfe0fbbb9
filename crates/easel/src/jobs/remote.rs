//! Cancels made by another process sharing the store (another replica behind the load
//! balancer, another MCP client's easel), noticed as soon as the store tells: without this
//! a job running here learns of it only at its next stored update, which for a long
//! generation can be minutes. Stores that do not tell keep that slower path.

use super::{Changed, Jobs};

pub(super) async fn follow_store(jobs: Jobs) {
    let Some(mut told) = jobs.inner.store.changes() else {
        return;
    };
    loop {
        let changed = match told.recv().await {
            Ok(changed) => changed,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Changed::anything(),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        // Anything (or lagging): look at every job running here. A job's own write (its
        // state here carries the written update time) needs no look.
        let ids: Vec<String> = if changed.id.is_empty() {
            jobs.running_here()
        } else if jobs
            .live_snapshot(&changed.id)
            .is_some_and(|job| job.updated_at_ms != changed.updated_at_ms)
        {
            vec![changed.id]
        } else {
            continue;
        };
        let here = jobs.clone();
        // A store read per job: blocking work, off the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || {
            for id in ids {
                if here.cancelled_elsewhere(&id) {
                    tracing::info!(job = %id, "cancelled by another easel process; stopping it here");
                }
            }
        })
        .await;
    }
}
