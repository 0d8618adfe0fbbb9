//! Leases: each process renews its claim on the jobs it runs; unfinished jobs whose claim
//! ran out (their process died) are resumed by a process that serves. Several easel
//! processes may share one data dir (one per MCP client) without running a job twice.
//!
//! A lease names its holder's process (see [`crate::process`]). A holder on this machine
//! that provably no longer runs (killed, crashed) gives its jobs up at once: a restarted
//! easel resumes them without waiting out the lease, which remains the rule for holders it
//! cannot see (another machine or container sharing the data dir).

use crate::clock::now_ms;
use crate::process::ProcessId;

use super::Jobs;

pub(super) async fn maintain(jobs: Jobs, resume: bool) {
    let lease = jobs.inner.settings.lease;
    let mut tick = tokio::time::interval(lease / 3);
    loop {
        tick.tick().await;
        let now = now_ms();
        let until = now + lease.as_millis() as u64;
        let before = jobs.running_here();
        match jobs.inner.store.renew(&jobs.inner.owner, until) {
            Ok(held) => jobs.abandon_lost(&before, &held),
            Err(e) => tracing::warn!(error = %e, "could not renew job leases"),
        }
        if !resume {
            continue;
        }
        let vacated = vacated(&jobs);
        if !vacated.is_empty() {
            // A holder that died may have died writing a file into the shared output root.
            jobs.sweep_temp_files();
        }
        match jobs
            .inner
            .store
            .claim_unfinished(&jobs.inner.owner, now, until, &vacated)
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

/// Holders of unfinished jobs that provably no longer run.
fn vacated(jobs: &Jobs) -> Vec<String> {
    let holders = match jobs.inner.store.lease_holders() {
        Ok(holders) => holders,
        Err(e) => {
            tracing::warn!(error = %e, "could not read job leases");
            return Vec::new();
        }
    };
    holders
        .into_iter()
        .filter(|owner| *owner != jobs.inner.owner)
        .filter(|owner| {
            let gone = ProcessId::parse(owner).is_some_and(|p| p.is_gone());
            if gone {
                tracing::info!(owner = %owner, "the process holding these jobs no longer runs; taking them over now");
            }
            gone
        })
        .collect()
}
