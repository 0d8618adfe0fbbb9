//! HTTP plumbing shared by the xiaohongshu and webhook publishers.

use std::time::Duration;

use serde_json::Value;

use crate::backend::http::{BodyError, MAX_ANSWER_BYTES, read_limited};

/// The shared client with `timeout` for the whole exchange (each publisher has its own).
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::backend::http::client(timeout).map_err(|e| e.to_string())
}

/// A status and a body: JSON when it parses, else the text as a JSON string.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// What went wrong without an answer.
#[derive(Clone, Debug)]
pub enum NoAnswer {
    /// Nothing reached the service (refused, no route, DNS): certainly not published.
    Unreachable(String),
    /// The request may have arrived: time-out, or the connection broke while waiting.
    Lost(String),
}

/// Sends the request and reads the whole answer.
pub async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, NoAnswer> {
    let response = request.send().await.map_err(classify)?;
    let status = response.status().as_u16();
    let bytes = read_limited(response, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| match e {
            // The service answered (so it may have acted); what it said is unknowable.
            BodyError::TooLarge { limit } => NoAnswer::Lost(format!(
                "the answer was larger than {} MiB, far beyond any real answer, and was not read",
                limit >> 20
            )),
            BodyError::Broken(reason) => NoAnswer::Lost(reason),
        })?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Answer { status, body })
}

fn classify(e: reqwest::Error) -> NoAnswer {
    // reqwest quotes the whole URL, and a webhook's path is often its secret: callers
    // name the service themselves (`config::shown_url`).
    let e = e.without_url();
    // A connect failure or a request that could not be built never reached the service;
    // anything later (time-out, reset while waiting) may have.
    if e.is_connect() || e.is_builder() {
        NoAnswer::Unreachable(describe(&e))
    } else {
        NoAnswer::Lost(describe(&e))
    }
}

/// The error with its causes, which is where reqwest puts the useful part.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// `body.a.b` as text, when it is a string.
pub fn text_at<'a>(body: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = body;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

/// The body for a message, shortened: a service's error page can be long.
pub fn shown(body: &Value) -> String {
    let text = match body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 600 {
        format!("{}…", text.chars().take(600).collect::<String>())
    } else {
        text
    }
}
