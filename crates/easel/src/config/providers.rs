//! OpenAI-compatible image providers: any number, each named; `OPENAI_API_KEY` and
//! `OPENAI_BASE_URL` give the default provider `openai`. Keys are read from the environment
//! variable each provider names, never from the file, so the file can be shared.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;
use super::settings::{Setting, Source};

/// Which request and response shapes a provider speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// OpenAI's own (also Together, xAI, gateways): `size`, `n`, `data[]`.
    #[default]
    Openai,
    /// SiliconFlow: `image_size`, `batch_size`, `images[].url`; no multipart edits.
    Siliconflow,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub base_url: Option<String>,
    /// Name of the environment variable that holds the API key.
    pub api_key_env: Option<String>,
    pub default_model: Option<String>,
    pub dialect: Option<Dialect>,
    pub headers: Option<BTreeMap<String, SecretString>>,
    pub timeout_secs: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The backend name callers use.
    pub name: String,
    /// Base URL ending in `/v1` (or the provider's equivalent), no trailing slash.
    pub base_url: String,
    pub api_key_env: String,
    pub api_key: Option<SecretString>,
    pub default_model: String,
    pub dialect: Dialect,
    pub headers: Vec<(String, SecretString)>,
    pub timeout: Duration,
}

const RESERVED: &[&str] = &["modelscope", "comfyui"];

pub fn resolve(
    files: BTreeMap<String, ProviderFile>,
    env: &dyn Fn(&str) -> Option<String>,
    file_path: &std::path::Path,
    settings: &mut Vec<Setting>,
) -> Result<Vec<ProviderSettings>, ConfigError> {
    let mut files = files;
    // The default provider always exists, so `backend: "openai"` works with just the key.
    files.entry("openai".to_string()).or_default();
    let mut out = Vec::new();
    for (name, f) in files {
        let bad = |message: String| ConfigError::Value {
            key: format!("providers.{name}"),
            origin: Source::File(file_path.to_path_buf()),
            message,
        };
        if RESERVED.contains(&name.as_str())
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(format!(
                "{name:?} cannot name a provider; use letters, digits, - and _, and not modelscope or comfyui"
            )));
        }
        let is_default = name == "openai";
        let (base_url, base_source) = match (is_default.then(|| env("OPENAI_BASE_URL")).flatten().filter(|s| !s.is_empty()), f.base_url) {
            (Some(url), _) => (url, Source::Env("OPENAI_BASE_URL".into())),
            (None, Some(url)) => (url, Source::File(file_path.to_path_buf())),
            (None, None) if is_default => ("https://api.openai.com/v1".to_string(), Source::Default),
            (None, None) => return Err(bad("has no base_url; give the provider's API base, e.g. \"https://api.siliconflow.cn/v1\"".into())),
        };
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(bad(format!("base_url {base_url:?} is not an http(s) URL")));
        }
        let api_key_env = f.api_key_env.unwrap_or_else(|| {
            if is_default {
                "OPENAI_API_KEY".to_string()
            } else {
                format!("{}_API_KEY", name.to_ascii_uppercase().replace('-', "_"))
            }
        });
        let api_key = env(&api_key_env)
            .filter(|k| !k.trim().is_empty())
            .map(SecretString::from);
        let default_model = match (
            is_default.then(|| env("EASEL_OPENAI_MODEL")).flatten(),
            f.default_model,
        ) {
            (Some(m), _) | (None, Some(m)) => m,
            (None, None) => "gpt-image-1".to_string(),
        };
        settings.push(Setting {
            key: "providers",
            value: format!(
                "{name}: {base_url}, model {default_model}, key {}",
                if api_key.is_some() {
                    format!("from {api_key_env} (redacted)")
                } else {
                    format!("missing (set {api_key_env})")
                }
            ),
            source: base_source,
        });
        out.push(ProviderSettings {
            name,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key_env,
            api_key,
            default_model,
            dialect: f.dialect.unwrap_or_default(),
            headers: f.headers.unwrap_or_default().into_iter().collect(),
            timeout: Duration::from_secs(f.timeout_secs.unwrap_or(300).max(1)),
        });
    }
    Ok(out)
}
