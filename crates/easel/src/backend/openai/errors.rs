//! OpenAI-style errors (`{"error": {message, type, param, code}}`, §4-§5), worded for the
//! agent: content-policy refusals said plainly, keys named by their variable.

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend::{BackendError, ErrorKind};
use crate::config::ProviderSettings;

/// Where the provider's API keys are made, for every message about a missing or refused
/// key (never asked for in a form). Gateways easel does not know get their base URL.
pub fn key_help(p: &ProviderSettings) -> String {
    const PAGES: &[(&str, &str)] = &[
        ("api.openai.com", "https://platform.openai.com/api-keys"),
        (
            "api.siliconflow.cn",
            "https://cloud.siliconflow.cn/account/ak",
        ),
        (
            "api.siliconflow.com",
            "https://cloud.siliconflow.com/account/ak",
        ),
        (
            "api.together.xyz",
            "https://api.together.ai/settings/api-keys",
        ),
        ("openrouter.ai", "https://openrouter.ai/settings/keys"),
        ("api.x.ai", "https://console.x.ai"),
    ];
    let host = p
        .base_url
        .split("://")
        .nth(1)
        .unwrap_or(&p.base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    match PAGES.iter().find(|(h, _)| *h == host) {
        Some((_, page)) => format!("Create a key at {page}"),
        None => format!(
            "Create a key in the console of the provider behind {}",
            p.base_url
        ),
    }
}

pub fn from_answer(p: &ProviderSettings, status: StatusCode, body: &str) -> BackendError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let err = parsed.get("error").cloned().unwrap_or(Value::Null);
    let s = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
    let message = s("message")
        .or_else(|| {
            parsed
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(300).collect());
    let code = s("code").unwrap_or_default();
    let kind_name = s("type").unwrap_or_default();
    let name = &p.name;
    let (kind, text) = match (status.as_u16(), code.as_str()) {
        (_, "moderation_blocked" | "content_policy_violation") => (
            ErrorKind::Rejected,
            format!(
                "{name} refused the request on content-policy grounds ({code}): {message} Rephrase the prompt or use another backend."
            ),
        ),
        (401, _) => (
            ErrorKind::Auth,
            format!(
                "{name} rejected the API key (401 {code}): {message} Set {} to a valid key for {}. {}.",
                p.api_key_env,
                p.base_url,
                key_help(p)
            ),
        ),
        (403, _) => (
            ErrorKind::Auth,
            format!("{name} refused access (403 {code}): {message}"),
        ),
        (404, _) => (
            ErrorKind::Rejected,
            format!(
                "{name} answered 404 ({code}): {message} Check the model id and that {} is the provider's API base (ending in /v1).",
                p.base_url
            ),
        ),
        (429, "insufficient_quota") => (
            ErrorKind::RateLimited,
            format!(
                "{name} says the account is out of credit (insufficient_quota): {message} Add credit or use another provider."
            ),
        ),
        (429, _) => (
            ErrorKind::RateLimited,
            format!(
                "{name} rate limit reached even after retries ({code}): {message} Try again in a minute."
            ),
        ),
        (400..=499, _) => {
            let param = s("param")
                .map(|p| format!(", parameter {p}"))
                .unwrap_or_default();
            (
                ErrorKind::Rejected,
                format!("{name} refused the request ({kind_name} {code}{param}): {message}"),
            )
        }
        _ => (
            ErrorKind::Unreachable,
            format!("{name} is failing (HTTP {status}): {message}"),
        ),
    };
    let mut e = BackendError::new(kind, text);
    if !err.is_null() {
        e = e.with_details(err);
    }
    e
}

#[cfg(test)]
mod key_help_tests {
    use super::key_help;
    use crate::config::{Dialect, ProviderSettings};

    fn provider(base_url: &str) -> ProviderSettings {
        ProviderSettings {
            name: "p".into(),
            base_url: base_url.into(),
            api_key_env: "P_KEY".into(),
            api_key: None,
            default_model: "m".into(),
            dialect: Dialect::Openai,
            headers: Vec::new(),
            timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn known_providers_get_their_key_page_and_gateways_their_url() {
        assert!(
            key_help(&provider("https://api.siliconflow.cn/v1"))
                .ends_with("https://cloud.siliconflow.cn/account/ak")
        );
        assert!(
            key_help(&provider("https://api.openai.com:443/v1"))
                .ends_with("https://platform.openai.com/api-keys")
        );
        let gateway = key_help(&provider("http://10.0.0.5:4000/v1"));
        assert!(gateway.contains("http://10.0.0.5:4000/v1"), "{gateway}");
    }
}
