//! The xiaohongshu-mcp publisher (docs/contracts/xiaohongshu-mcp.md sections 3 to 7): one service process per
//! account, reached over its REST API. A publish is a success only when the service says
//! `data.status == "发布完成"`; 500s are "not published" with the service's `details`
//! verbatim; a missing answer is "unknown"; nothing is ever retried.

use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::clock::now_ms;
use crate::config::{PublisherSettings, PublisherTarget};
use crate::jobs::{NoteContent, NoteOutcome};
use crate::outputs::{OutputFormat, OutputRoot, SaveRequest};

use super::Delivery;
use super::explain;
use super::report::{QrCode, StatusReport};
use super::wire::{Answer, NoAnswer, client, exchange, shown, text_at};
use crate::clock::{format_utc, parse_go_duration, stamp};

/// The one value of `data.status` that means the note is posted.
const CONFIRMED: &str = "发布完成";

struct Target<'a> {
    name: &'a str,
    url: &'a str,
    token_env: Option<&'a str>,
    token: Option<&'a SecretString>,
    timeout: Duration,
    status_timeout: Duration,
}

fn target(p: &PublisherSettings) -> Option<Target<'_>> {
    match &p.target {
        PublisherTarget::Xiaohongshu {
            url,
            token_env,
            token,
            timeout,
            status_timeout,
        } => Some(Target {
            name: &p.name,
            url,
            token_env: token_env.as_deref(),
            token: token.as_ref(),
            timeout: *timeout,
            status_timeout: *status_timeout,
        }),
        _ => None,
    }
}

fn failed(summary: String, explanation: Option<String>) -> Delivery {
    Delivery {
        outcome: NoteOutcome::Failed,
        summary,
        explanation,
        http_status: None,
        answer: None,
        location: None,
    }
}

impl Target<'_> {
    /// The service's address; easel and the service must share a filesystem for paths.
    fn route(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        // Builds before the token existed ignore the header, so sending it is always safe.
        match self.token {
            Some(t) => request.bearer_auth(t.expose_secret()),
            None => request,
        }
    }

    /// A token was asked for in the configuration but its variable is empty.
    fn missing_token(&self) -> Option<String> {
        match (self.token_env, self.token) {
            (Some(env), None) => Some(format!(
                "token_env names {env}, which is not set in easel's environment. Set it to the token xiaohongshu-mcp was started with (its -token flag or AUTH_TOKEN; see https://github.com/xpzouying/xiaohongshu-mcp), or remove token_env if the service runs without one."
            )),
            _ => None,
        }
    }

    fn who(&self) -> String {
        format!("{} (xiaohongshu-mcp at {})", self.name, self.url)
    }
}

/// `(code, details)` of an error envelope; `details` may be any JSON (`{}` on crashes).
fn envelope(body: &Value) -> (Option<String>, Option<String>, Option<String>) {
    let error = text_at(body, &["error"]).map(str::to_string);
    let code = text_at(body, &["code"]).map(str::to_string);
    let details = body.get("details").map(|d| match d {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    (error, code, details)
}

enum Login {
    In,
    Out,
    /// Nothing reached the service.
    Unreachable(String),
    Unauthorized(Answer),
    /// The check itself failed; the publish may still work, so it is not blocked.
    Unclear,
}

async fn login_state(t: &Target<'_>) -> Login {
    let http = match client(t.status_timeout) {
        Ok(c) => c,
        Err(_) => return Login::Unclear,
    };
    match exchange(t.authed(http.get(t.route("/api/v1/login/status")))).await {
        Err(NoAnswer::Unreachable(e)) => Login::Unreachable(e),
        Err(NoAnswer::Lost(_)) => Login::Unclear,
        Ok(a) if a.status == 401 => Login::Unauthorized(a),
        Ok(a) if a.status == 200 => match a.body.pointer("/data/is_logged_in") {
            Some(Value::Bool(true)) => Login::In,
            Some(Value::Bool(false)) => Login::Out,
            _ => Login::Unclear,
        },
        Ok(_) => Login::Unclear,
    }
}

/// Sends one note. Checks the login first: a logged-out publish only fails after the
/// service has waited up to 5 minutes for the publish page (contract 5.2 step 4).
pub async fn publish(p: &PublisherSettings, note: &NoteContent) -> Delivery {
    let Some(t) = target(p) else {
        return failed(format!("{} is not a xiaohongshu publisher", p.name), None);
    };
    if let Some(why) = t.missing_token() {
        return failed(format!("{}: nothing was sent.", t.who()), Some(why));
    }
    match login_state(&t).await {
        Login::Out => {
            return failed(
                format!("{}: the account is logged out; nothing was sent.", t.who()),
                Some("log in first: call publisher_status with this publisher to get a QR code, scan it with the Xiaohongshu app, then publish again.".into()),
            );
        }
        Login::Unreachable(e) => {
            return failed(
                format!("cannot reach {}: {e}; nothing was sent.", t.who()),
                Some("start xiaohongshu-mcp (it listens on :18060 by default), or fix the publisher's url.".into()),
            );
        }
        Login::Unauthorized(a) => {
            let mut d = failed(
                format!(
                    "{} refused easel's token (HTTP 401); nothing was sent.",
                    t.who()
                ),
                Some(explain::failure(Some("UNAUTHORIZED"), None)),
            );
            d.http_status = Some(a.status);
            d.answer = Some(a.body);
            return d;
        }
        Login::In | Login::Unclear => {}
    }
    let mut body = json!({
        "title": note.title,
        "content": note.content,
        "images": note.images,
        "tags": note.tags,
    });
    if let Some(at) = &note.schedule_at {
        body["schedule_at"] = json!(at);
    }
    if let Some(v) = &note.visibility {
        body["visibility"] = json!(v);
    }
    let http = match client(t.timeout) {
        Ok(c) => c,
        Err(e) => return failed(format!("{}: {e}; nothing was sent.", t.who()), None),
    };
    tracing::info!(
        publisher = t.name,
        images = note.images.len(),
        "publishing a note"
    );
    let answer = exchange(t.authed(http.post(t.route("/api/v1/publish")).json(&body))).await;
    match answer {
        Err(NoAnswer::Unreachable(e)) => failed(
            format!("cannot reach {}: {e}; nothing was sent.", t.who()),
            Some("start xiaohongshu-mcp, or fix the publisher's url.".into()),
        ),
        Err(NoAnswer::Lost(e)) => Delivery {
            outcome: NoteOutcome::Unknown,
            summary: format!(
                "no answer from {} within {} s ({e}).",
                t.who(),
                t.timeout.as_secs()
            ),
            explanation: Some("publishing drives a browser and can take minutes; the service keeps going after easel stops waiting, so the note may still appear. Raise the publisher's timeout_secs if this happens often.".into()),
            http_status: None,
            answer: None,
            location: None,
        },
        Ok(a) => judge(&t, a),
    }
}

/// What an answer means (contract 5.4, 6, 7.6).
fn judge(t: &Target<'_>, a: Answer) -> Delivery {
    let mut d = Delivery {
        outcome: NoteOutcome::Failed,
        summary: String::new(),
        explanation: None,
        http_status: Some(a.status),
        answer: None,
        location: None,
    };
    let (error, code, details) = envelope(&a.body);
    match a.status {
        200 => {
            let confirmed = a.body.get("success") == Some(&Value::Bool(true))
                && text_at(&a.body, &["data", "status"]) == Some(CONFIRMED);
            if confirmed {
                d.outcome = NoteOutcome::Published;
                d.summary = format!(
                    "{} confirmed it: status {CONFIRMED} ({}).",
                    t.who(),
                    text_at(&a.body, &["message"]).unwrap_or("")
                );
            } else {
                d.outcome = NoteOutcome::Unconfirmed;
                d.summary = format!(
                    "{} answered HTTP 200 but without data.status \"{CONFIRMED}\": {}",
                    t.who(),
                    shown(&a.body)
                );
                d.explanation = Some("older or broken builds of xiaohongshu-mcp answered success without checking that the note was posted (fixed in builds from 2026-07-20). Upgrade the service.".into());
            }
        }
        404 => {
            d.summary = format!(
                "{} has no publish route (HTTP 404); nothing was published.",
                t.who()
            );
            d.explanation = Some("the url does not point at xiaohongshu-mcp, or the build is too old. Check the publisher's url.".into());
        }
        400..=500 => {
            d.summary = format!(
                "{} answered HTTP {}: {} ({}): {}",
                t.who(),
                a.status,
                error.as_deref().unwrap_or("-"),
                code.as_deref().unwrap_or("no code"),
                details.as_deref().unwrap_or("(no details)")
            );
            d.explanation = Some(explain::failure(code.as_deref(), details.as_deref()));
        }
        other => {
            // 502/504 and the like come from something in between, which may have given
            // up while the service kept publishing.
            d.outcome = NoteOutcome::Unknown;
            d.summary = format!(
                "{} answered HTTP {other}, which does not say whether the note was posted.",
                t.who()
            );
        }
    }
    d.answer = Some(a.body);
    d
}

/// `/health`, then the login status; when logged out (and `login`), a QR code.
pub async fn status(p: &PublisherSettings, outputs: &OutputRoot, login: bool) -> StatusReport {
    let Some(t) = target(p) else {
        return StatusReport::base(p, "error", false, "not a xiaohongshu publisher".into());
    };
    let mut r = StatusReport::base(p, "error", false, String::new());
    r.url = Some(t.url.to_string());
    let http = match client(t.status_timeout) {
        Ok(c) => c,
        Err(e) => {
            r.summary = e;
            return r;
        }
    };
    match exchange(http.get(t.route("/health"))).await {
        Err(NoAnswer::Unreachable(e) | NoAnswer::Lost(e)) => {
            r.state = "unreachable".into();
            r.summary = format!(
                "xiaohongshu-mcp does not answer at {} ({e}). Start it (one process per account; :18060 by default) or fix the url.",
                t.url
            );
            return r;
        }
        Ok(a) if a.status != 200 => {
            r.summary = format!(
                "{} answered /health with HTTP {}; is this xiaohongshu-mcp?",
                t.url, a.status
            );
            r.answer = Some(a.body);
            return r;
        }
        Ok(a) => r.version = text_at(&a.body, &["data", "version"]).map(str::to_string),
    }
    if let Some(why) = t.missing_token() {
        r.state = "unauthorized".into();
        r.summary = why;
        return r;
    }
    let answer = exchange(t.authed(http.get(t.route("/api/v1/login/status")))).await;
    let a = match answer {
        Err(NoAnswer::Unreachable(e) | NoAnswer::Lost(e)) => {
            r.summary = format!("the login check did not answer: {e}");
            return r;
        }
        Ok(a) => a,
    };
    match (a.status, a.body.pointer("/data/is_logged_in")) {
        (401, _) => {
            r.state = "unauthorized".into();
            r.summary = format!(
                "the service refused easel's token (HTTP 401): {}",
                explain::failure(Some("UNAUTHORIZED"), None)
            );
            r.answer = Some(a.body);
            r
        }
        (200, Some(Value::Bool(true))) => {
            r.state = "logged_in".into();
            r.ready = true;
            r.username = text_at(&a.body, &["data", "username"]).map(str::to_string);
            r.user_id = text_at(&a.body, &["data", "user_id"]).map(str::to_string);
            r.summary = format!(
                "logged in{} — ready to publish",
                r.username
                    .as_deref()
                    .map_or(String::new(), |u| format!(" as {u}"))
            );
            r
        }
        (200, Some(Value::Bool(false))) => {
            r.state = "logged_out".into();
            if !login {
                r.summary =
                    "logged out. Call publisher_status with login true to get a QR code to scan."
                        .into();
                return r;
            }
            qr_login(&t, &http, outputs, r).await
        }
        _ => {
            let (_, code, details) = envelope(&a.body);
            r.summary = format!(
                "the login check failed (HTTP {}): {}. {}",
                a.status,
                details.as_deref().unwrap_or("no details"),
                explain::failure(code.as_deref(), details.as_deref())
            );
            r.answer = Some(a.body);
            r
        }
    }
}

/// Starts a QR login, saves the code under `login/` and puts it in the report.
async fn qr_login(
    t: &Target<'_>,
    http: &reqwest::Client,
    outputs: &OutputRoot,
    mut r: StatusReport,
) -> StatusReport {
    let a = match exchange(t.authed(http.get(t.route("/api/v1/login/qrcode")))).await {
        Ok(a) => a,
        Err(NoAnswer::Unreachable(e) | NoAnswer::Lost(e)) => {
            r.summary = format!("logged out, and the QR code request did not answer: {e}");
            return r;
        }
    };
    if a.body.pointer("/data/is_logged_in") == Some(&Value::Bool(true)) {
        r.state = "logged_in".into();
        r.ready = true;
        r.summary = "logged in (just now) — ready to publish".into();
        return r;
    }
    let img = text_at(&a.body, &["data", "img"]).filter(|_| a.status == 200);
    let Some(img) = img else {
        let (_, code, details) = envelope(&a.body);
        r.summary = format!(
            "logged out, and no QR code came back (HTTP {}): {}. {}",
            a.status,
            details.as_deref().unwrap_or("no details"),
            explain::failure(code.as_deref(), details.as_deref())
        );
        r.answer = Some(a.body);
        return r;
    };
    // The website's <img src>: "data:image/png;base64,…" (contract 4.3).
    let encoded = img.split_once("base64,").map_or(img, |(_, b)| b);
    let cleaned: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = match base64::engine::general_purpose::STANDARD.decode(cleaned) {
        Ok(b) => b,
        Err(e) => {
            r.summary = format!("logged out, and the QR code could not be decoded ({e})");
            return r;
        }
    };
    let valid = text_at(&a.body, &["data", "timeout"]).and_then(parse_go_duration);
    let valid_seconds = valid.map_or(0, |d| d.as_secs());
    let stem = format!("{}-qr-{}", t.name, stamp(std::time::SystemTime::now()));
    let saved = {
        let (outputs, bytes) = (outputs.clone(), bytes.clone());
        tokio::task::spawn_blocking(move || {
            outputs.save(&SaveRequest {
                dir: Some("login"),
                stem: &stem,
                bytes: &bytes,
                format: OutputFormat::Original,
            })
        })
        .await
    };
    let saved = match saved {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            r.summary = format!("logged out; the QR code could not be saved: {e}");
            return r;
        }
        Err(e) => {
            r.summary = format!("logged out; saving the QR code was interrupted: {e}");
            return r;
        }
    };
    let expires_at = format_utc(now_ms() as i64 + (valid_seconds as i64) * 1000);
    r.summary = format!(
        "logged out. A login QR code is waiting (valid {})",
        if valid.is_some() {
            format!("{valid_seconds} s, until {expires_at}")
        } else {
            "for an unknown time".into()
        }
    );
    r.qr = Some(QrCode {
        path: saved.path.display().to_string(),
        mime: saved.mime().to_string(),
        valid_seconds,
        expires_at,
        base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    r
}
