//! Effective configuration: one TOML file plus environment overrides, with defaults that work.
//!
//! Every value remembers where it came from (default, file or environment variable) so that
//! `easel config` can explain itself, and secrets are kept in [`SecretString`] so they cannot
//! be printed by accident.

mod comfy;
mod confirm;
mod file;
mod http;
mod paths;
mod providers;
mod publishers;
mod settings;
mod table;
#[cfg(test)]
pub(crate) mod testing;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

pub use comfy::{ComfyServer, ComfySettings, DEFAULT_SERVER};
pub use confirm::ConfirmSettings;
pub use file::FileConfig;
pub use http::{HttpSettings, constant_time_eq};
pub use providers::{Dialect, ProviderFile, ProviderSettings};
pub use publishers::{
    DRAFT, PublisherFile, PublisherKind, PublisherSettings, PublisherTarget, PublishingSettings,
    shown_url,
};
pub use settings::{MODELSCOPE_MODEL, Setting, Source};

/// Where the configuration file was looked for, and whether it existed.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub loaded: bool,
}

/// The resolved configuration easel runs with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Root folder every image is saved under; caller paths are relative to it.
    pub output_dir: PathBuf,
    /// Folder for easel's own state (the job store).
    pub data_dir: PathBuf,
    /// Backend used when a call names none.
    pub default_backend: String,
    /// Default `wait_seconds` of generating tools.
    pub wait_seconds: u64,
    pub jobs: JobSettings,
    pub modelscope: ModelScopeSettings,
    pub comfyui: ComfySettings,
    /// OpenAI-compatible providers, each a backend of its own name.
    pub providers: Vec<ProviderSettings>,
    /// Folders besides the output root that edit sources may be read from.
    pub input_dirs: Vec<PathBuf>,
    /// Serving MCP over HTTP (`easel serve --http`).
    pub http: HttpSettings,
    /// Where `publish_note` sends notes.
    pub publishing: PublishingSettings,
    /// When easel asks the user before publishing or spending a paid quota.
    pub confirm: ConfirmSettings,
    /// The file that was read (or would have been).
    pub file: ConfigFile,
    /// Every setting with its display value (secrets redacted) and source, for `easel config`.
    pub settings: Vec<Setting>,
}

/// Limits and timing of the job layer.
#[derive(Clone, Debug)]
pub struct JobSettings {
    pub max_running_per_backend: usize,
    pub max_queued: usize,
    /// A crashed process's unfinished jobs are resumed by another once this runs out.
    pub lease: Duration,
    pub heartbeat: Duration,
    /// A PostgreSQL job store shared by several easel replicas; `None`: SQLite in the data dir.
    pub database_url: Option<secrecy::SecretString>,
}

/// How easel talks to ModelScope's API-Inference service.
#[derive(Clone, Debug)]
pub struct ModelScopeSettings {
    pub token: Option<SecretString>,
    /// Base URL ending in `/`; API paths are appended as `v1/...`.
    pub base_url: String,
    pub default_model: String,
    /// Delay before the first poll; polling then backs off to `poll_max`.
    pub poll_initial: Duration,
    pub poll_max: Duration,
    /// Give up on a task after this long.
    pub timeout: Duration,
    /// Retries of 429 and 5xx answers before the call fails.
    pub max_retries: u32,
    /// First retry delay; doubles each retry, with jitter, unless `Retry-After` says otherwise.
    pub retry_base: Duration,
    /// Time-out of one HTTP request (submit, poll or download).
    pub http_timeout: Duration,
}

/// Errors in the configuration: they name the key or variable, the reason and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key} (from {origin}): {message}")]
    Value {
        key: String,
        origin: Source,
        message: String,
    },
    #[error("no home directory found to place easel's {what}; set {env} to a folder")]
    NoHome {
        what: &'static str,
        env: &'static str,
    },
}

impl Config {
    /// Loads the configuration from `explicit` (or the platform default location) and the
    /// process environment.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with(explicit, &|name| std::env::var(name).ok())
    }

    /// Like [`Config::load`], reading the environment through `env` (for tests).
    pub fn load_with(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match env("EASEL_CONFIG").filter(|v| !v.is_empty()) {
                Some(p) => (PathBuf::from(p), true),
                None => (paths::default_config_file()?, false),
            },
        };
        let (file, loaded) = FileConfig::read(&path, required)?;
        settings::resolve(file, ConfigFile { path, loaded }, env)
    }
}
