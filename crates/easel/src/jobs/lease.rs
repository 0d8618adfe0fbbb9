//! Leases: each process renews its claim on the jobs it runs; unfinished jobs whose claim
//! ran out (their process died) are resumed by a process that serves. Several easel
//! processes may share one data dir (one per MCP client) without running a job twice.

use crate::clock::now_ms;

use super::Jobs;

pub(super) async fn maintain(jobs: Jobs, resume: bool) {
    let lease = jobs.inner.settings.lease;
    let mut tick = tokio::time::interval(lease / 3);
    loop {
        tick.tick().await;
        let now = now_ms();
        let until = now + lease.as_millis() as u64;
        if let Err(e) = jobs.inner.store.renew(&jobs.inner.owner, until) {
            tracing::warn!(error = %e, "could not renew job leases");
        }
        if !resume {
            continue;
        }
        match jobs
            .inner
            .store
            .claim_unfinished(&jobs.inner.owner, now, until)
        {
            Ok(claimed) => {
                for job in claimed {
                    match jobs.backend(Some(&job.backend)) {
                        Ok(backend) => {
                            tracing::info!(job = %job.id, status = job.status.as_str(), "resuming unfinished job");
                            jobs.start(job, backend);
                        }
                        Err(e) => {
                            tracing::warn!(job = %job.id, error = %e, "cannot resume job: its backend is not configured")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not look for unfinished jobs"),
        }
    }
}
