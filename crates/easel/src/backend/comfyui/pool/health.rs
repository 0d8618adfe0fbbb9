//! Whether a server answers, and the background check that keeps that current: every
//! `comfyui.health_check_secs` while it answers; while it does not, again after 1 s, then
//! twice as long each time up to 30 s, so a server that comes back rejoins quickly without
//! a dead one being hammered.

use std::sync::Weak;
use std::time::Duration;

use serde::Serialize;

use super::server::Server;

/// First retry of a server that stopped answering.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Longest wait between checks of a server that does not answer.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How old a server's capabilities may get before the check fetches them again.
pub const CAPABILITIES_MAX_AGE: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Health {
    /// Not checked or used yet; treated as up.
    Unknown,
    Up {
        since_ms: u64,
    },
    /// Taken out of the pool until it answers again.
    Down {
        since_ms: u64,
        reason: String,
    },
}

impl Health {
    pub fn is_down(&self) -> bool {
        matches!(self, Health::Down { .. })
    }

    /// "up", "down since 2026-09-01T10:30:00Z: cannot reach …", "not checked yet".
    pub fn describe(&self) -> String {
        match self {
            Health::Unknown => "not checked yet".into(),
            Health::Up { since_ms } => format!("up since {}", crate::clock::format_utc(*since_ms)),
            Health::Down { since_ms, reason } => format!(
                "down since {}: {reason}",
                crate::clock::format_utc(*since_ms)
            ),
        }
    }
}

/// Checks `server` until it is dropped (the pool is gone).
pub async fn watch(server: Weak<Server>, every: Duration) {
    let mut backoff = FIRST_RETRY;
    loop {
        // No strong reference is held while sleeping, so a dropped pool ends this task.
        let (wait, wake) = {
            let Some(s) = server.upgrade() else { return };
            let wait = if s.health().is_down() { backoff } else { every };
            (wait, s.wake.clone())
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {
                // A job just found the server failing: start checking it from 1 s again.
                backoff = FIRST_RETRY;
                continue;
            }
        }
        let Some(s) = server.upgrade() else { return };
        match s.api.probe_queue().await {
            Ok(queue) => {
                backoff = FIRST_RETRY;
                let came_back = s.mark_up(Some(queue));
                if came_back {
                    tracing::info!(server = %s.name, "ComfyUI server answers again; back in the pool");
                }
                // Capabilities nobody asked for yet are left to the first job that needs them.
                let stale = s
                    .capabilities_age()
                    .is_some_and(|age| came_back || age >= CAPABILITIES_MAX_AGE);
                if stale && let Err(e) = s.refresh_capabilities().await {
                    tracing::debug!(server = %s.name, error = %e, "could not refresh the server's capabilities");
                }
            }
            Err(e) => {
                let was_down = s.health().is_down();
                if !was_down {
                    tracing::warn!(server = %s.name, error = %e, "ComfyUI server stopped answering; taken out of the pool");
                }
                s.mark_down(&e);
                backoff = if was_down {
                    (backoff * 2).min(MAX_RETRY)
                } else {
                    FIRST_RETRY
                };
            }
        }
    }
}
