//! Cancels made by another process sharing the store (another replica behind the load
//! balancer, another MCP client's easel), noticed as soon as the store tells: without this
//! a job running here learns of it only at its next stored update, which for a long
//! generation can be minutes. Stores that do not tell keep that slower path.

use super::Jobs;

pub(super) async fn follow_store(jobs: Jobs) {
    let Some(mut told) = jobs.inner.store.changes() else {
        return;
    };
    loop {
        let id = match told.recv().await {
            Ok(id) => id,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => String::new(),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        // "" (or lagging): anything may have changed; look at every job running here.
        let ids: Vec<String> = if id.is_empty() {
            jobs.running_here()
        } else if jobs.runs_here(&id) {
            vec![id]
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
