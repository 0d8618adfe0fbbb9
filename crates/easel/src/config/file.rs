//! The TOML file's shape. Unknown keys are an error naming the key, so typos never pass
//! silently.

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Root folder every image is saved under.
    pub output_dir: Option<String>,
    /// Folder for easel's own state.
    pub data_dir: Option<String>,
    /// Backend used when a call names none.
    pub default_backend: Option<String>,
    /// Default `wait_seconds` of generating tools.
    pub wait_seconds: Option<u64>,
    #[serde(default)]
    pub jobs: JobsFile,
    #[serde(default)]
    pub modelscope: ModelScopeFile,
    #[serde(default)]
    pub comfyui: super::comfy::ComfyFile,
    /// OpenAI-compatible providers by name.
    #[serde(default)]
    pub providers: std::collections::BTreeMap<String, super::providers::ProviderFile>,
    /// Folders besides the output root that edit sources may be read from.
    pub input_dirs: Option<Vec<String>>,
    #[serde(default)]
    pub http: super::http::HttpFile,
    /// Publisher used when a call names none.
    pub default_publisher: Option<String>,
    /// Publishers by name (xiaohongshu accounts, webhooks, draft folders).
    #[serde(default)]
    pub publishers: std::collections::BTreeMap<String, super::publishers::PublisherFile>,
    /// Asking the user before publishing or spending a paid quota.
    #[serde(default)]
    pub confirm: super::confirm::ConfirmFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsFile {
    /// Jobs running at once per backend; more wait in a queue.
    pub max_running_per_backend: Option<usize>,
    /// Jobs allowed to wait for a slot, over all backends.
    pub max_queued: Option<usize>,
    /// How long a process's claim on its running jobs lasts without renewal.
    pub lease_secs: Option<u64>,
    /// Interval of progress notifications while a backend is silent.
    pub heartbeat_ms: Option<u64>,
    /// postgres://… of a job store shared by several replicas (prefer EASEL_DATABASE_URL:
    /// the URL may carry a password).
    pub database_url: Option<SecretString>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelScopeFile {
    /// Access token (prefer the MODELSCOPE_SDK_TOKEN environment variable).
    pub token: Option<SecretString>,
    pub base_url: Option<String>,
    pub default_model: Option<String>,
    pub poll_initial_ms: Option<u64>,
    pub poll_max_ms: Option<u64>,
    pub timeout_secs: Option<u64>,
    pub max_retries: Option<u32>,
    pub retry_base_ms: Option<u64>,
    pub http_timeout_secs: Option<u64>,
}

impl FileConfig {
    /// Reads `path`. A missing file is an error only when the user named it.
    pub fn read(path: &Path, required: bool) -> Result<(FileConfig, bool), ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok((FileConfig::default(), false));
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text)
            .map(|c| (c, true))
            .map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string().trim().replace('\n', " "),
            })
    }
}
