//! Whether a hosted API really accepts easel's credentials: one cheap authenticated request
//! (it generates nothing and spends no quota), told apart as unreachable, unauthorized or
//! ok. A key that is merely set says nothing: it may be revoked, mistyped or for another
//! service.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use super::http::transport_reason;

/// Longest a health check waits: `easel doctor` and the `backends` tool must answer quickly.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the check request found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The service accepted the credentials (`status` is what it answered).
    Ok { status: u16 },
    /// 401/403: the credentials were refused.
    Unauthorized { status: u16 },
    /// No answer: the reason.
    Unreachable(String),
    /// An answer that says nothing about the credentials (5xx, a proxy's page).
    Unexpected { status: u16 },
}

impl Check {
    /// Sends `request` (no retries: a health check reports what is, now). `accepted` are
    /// the statuses that mean "credentials fine", beyond 2xx (e.g. 404 for an unknown task).
    pub async fn run(request: RequestBuilder, accepted: &[StatusCode]) -> Check {
        match request.timeout(CHECK_TIMEOUT).send().await {
            Err(e) => Check::Unreachable(transport_reason(&e)),
            Ok(resp) => {
                let status = resp.status();
                let code = status.as_u16();
                // Rate-limited means the key was accepted (and counted).
                if status.is_success()
                    || accepted.contains(&status)
                    || status == StatusCode::TOO_MANY_REQUESTS
                {
                    Check::Ok { status: code }
                } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    Check::Unauthorized { status: code }
                } else {
                    Check::Unexpected { status: code }
                }
            }
        }
    }

    pub fn ready(&self) -> bool {
        matches!(self, Check::Ok { .. })
    }

    /// One line: `service` (e.g. "ModelScope at https://…") and what was asked.
    pub fn summary(&self, service: &str, asked: &str, fix_auth: &str) -> String {
        match self {
            Check::Ok { .. } => format!("ok: {service} accepted the token ({asked})"),
            Check::Unauthorized { status } => {
                format!(
                    "unauthorized: {service} refused the token (HTTP {status} to {asked}). {fix_auth}"
                )
            }
            Check::Unreachable(why) => {
                format!("unreachable: {service} did not answer {asked}: {why}")
            }
            Check::Unexpected { status } => format!(
                "not ready: {service} answered {asked} with HTTP {status}, which says nothing about the token; the service or a proxy in front of it is failing"
            ),
        }
    }

    /// For the structured result: the outcome word, the request and the status.
    pub fn details(&self, asked: &str) -> Value {
        let (outcome, status) = match self {
            Check::Ok { status } => ("ok", Some(*status)),
            Check::Unauthorized { status } => ("unauthorized", Some(*status)),
            Check::Unreachable(_) => ("unreachable", None),
            Check::Unexpected { status } => ("unexpected_answer", Some(*status)),
        };
        json!({"outcome": outcome, "request": asked, "http_status": status})
    }
}
