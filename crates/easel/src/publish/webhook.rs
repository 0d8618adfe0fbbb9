//! The webhook publisher: one JSON POST per note. The body matches the prototype's
//! receiver (`{"title", "desc", "images"}`, images as absolute paths) plus `tags`, and
//! `schedule_at` / `visibility` when given. Any 2xx is success, with the body returned.

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::config::{PublisherSettings, PublisherTarget, shown_url};
use crate::jobs::{NoteContent, NoteOutcome};

use super::Delivery;
use super::wire::{NoAnswer, client, exchange, shown};

/// The JSON body sent for `note`; `text_field` is "desc" (the prototype's) or "content".
pub fn body(note: &NoteContent, text_field: &str) -> Value {
    let mut body = json!({
        "title": note.title,
        "images": note.images,
        "tags": note.tags,
    });
    body[text_field] = json!(note.content);
    if let Some(at) = &note.schedule_at {
        body["schedule_at"] = json!(at);
    }
    if let Some(v) = &note.visibility {
        body["visibility"] = json!(v);
    }
    body
}

pub async fn publish(p: &PublisherSettings, note: &NoteContent) -> Delivery {
    let mut d = Delivery {
        outcome: NoteOutcome::Failed,
        summary: String::new(),
        explanation: None,
        http_status: None,
        answer: None,
        location: None,
    };
    let PublisherTarget::Webhook {
        url,
        token_env,
        token,
        headers,
        text_field,
        timeout,
    } = &p.target
    else {
        d.summary = format!("{} is not a webhook publisher", p.name);
        return d;
    };
    let who = format!("{} (webhook {})", p.name, shown_url(url));
    if let (Some(env), None) = (token_env, token) {
        d.summary = format!("{who}: nothing was sent.");
        d.explanation = Some(format!(
            "token_env names {env}, which is not set in easel's environment. Set it to the bearer token the receiving system expects, or remove token_env."
        ));
        return d;
    }
    let http = match client(*timeout) {
        Ok(c) => c,
        Err(e) => {
            d.summary = format!("{who}: {e}; nothing was sent.");
            return d;
        }
    };
    let mut request = http.post(url).json(&body(note, text_field));
    for (name, value) in headers {
        request = request.header(name.as_str(), value.expose_secret());
    }
    if let Some(t) = token {
        request = request.bearer_auth(t.expose_secret());
    }
    match exchange(request).await {
        Err(NoAnswer::Unreachable(e)) => {
            d.summary = format!("cannot reach {who}: {e}; nothing was sent.");
        }
        Err(NoAnswer::Lost(e)) => {
            d.outcome = NoteOutcome::Unknown;
            d.summary = format!(
                "no answer from {who} within {} s ({e}); the receiver may have taken the note.",
                timeout.as_secs()
            );
        }
        Ok(a) => {
            d.http_status = Some(a.status);
            if (200..300).contains(&a.status) {
                d.outcome = NoteOutcome::Published;
                d.summary = format!("{who} accepted it (HTTP {}).", a.status);
            } else {
                d.summary = format!("{who} answered HTTP {}: {}", a.status, shown(&a.body));
                d.explanation =
                    Some("the receiver refused the note; its answer above says why.".into());
            }
            d.answer = Some(a.body);
        }
    }
    d
}
