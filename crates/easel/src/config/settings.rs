//! Layering: default < file < environment, one value at a time, remembering the source.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::file::FileConfig;
use super::paths::{default_data_dir, default_output_dir, expand_home};
use super::table::{Row, any};
use super::{Config, ConfigError, ConfigFile, JobSettings, ModelScopeSettings};
use crate::request::{DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS};

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(name) => write!(f, "env {name}"),
        }
    }
}

/// One line of `easel config`: the key, its display value (secrets redacted), its source.
#[derive(Clone, Debug)]
pub struct Setting {
    pub key: &'static str,
    pub value: String,
    pub source: Source,
}

pub const MODELSCOPE_BASE_URL: &str = "https://api-inference.modelscope.cn/";
pub const MODELSCOPE_MODEL: &str = "Qwen/Qwen-Image";

pub(super) struct Resolver<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) file: PathBuf,
    pub(super) settings: Vec<Setting>,
}

impl Resolver<'_> {
    /// Where the value picked last came from.
    pub(super) fn last_source(&self) -> Source {
        self.settings
            .last()
            .map_or(Source::Default, |s| s.source.clone())
    }

    /// Picks the first set environment variable among `vars`, else the file value, else
    /// `default`; parses environment text with `FromStr`.
    pub(super) fn pick<T>(
        &mut self,
        key: &'static str,
        vars: &[&str],
        file: Option<T>,
        default: impl FnOnce() -> Result<T, ConfigError>,
        show: impl Fn(&T) -> String,
    ) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let from_env = vars.iter().find_map(|v| {
            (self.env)(v)
                .filter(|s| !s.trim().is_empty())
                .map(|s| (*v, s))
        });
        let (value, source) = match (from_env, file) {
            (Some((var, text)), _) => {
                let source = Source::Env(var.to_string());
                let value = text.trim().parse::<T>().map_err(|e| ConfigError::Value {
                    key: key.to_string(),
                    origin: source.clone(),
                    message: format!("{e}"),
                })?;
                (value, source)
            }
            (None, Some(v)) => (v, Source::File(self.file.clone())),
            (None, None) => (default()?, Source::Default),
        };
        self.settings.push(Setting {
            key,
            value: show(&value),
            source,
        });
        Ok(value)
    }
}

pub(super) fn plain<T: fmt::Display>(v: &T) -> String {
    v.to_string()
}

pub(super) fn path_text(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Parses `PathBuf` through `~` expansion.
#[derive(Clone)]
pub(super) struct HomePath(pub(super) PathBuf);

impl FromStr for HomePath {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(HomePath(expand_home(s)))
    }
}

/// An optional token read from env or file; displayed only as set or not set.
pub(super) struct Token(pub(super) Option<SecretString>);

impl FromStr for Token {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Token(Some(SecretString::from(s.to_string()))))
    }
}

pub(super) fn millis(v: &u64) -> String {
    format!("{v} ms")
}

pub(super) fn secs(v: &u64) -> String {
    format!("{v} s")
}

/// A token is only ever shown as set or not set.
pub(super) fn shown_token(t: &Token) -> String {
    match t.0 {
        Some(_) => "(set, redacted)".to_string(),
        None => "(not set)".to_string(),
    }
}

const OUTPUT_DIR: Row<FileConfig, HomePath> = Row {
    key: "output_dir",
    env: &["EASEL_OUTPUT_DIR"],
    file: |f| f.output_dir.as_deref().map(|s| HomePath(expand_home(s))),
    default: || default_output_dir().map(HomePath),
    show: |p| path_text(&p.0),
    check: any,
};
const DATA_DIR: Row<FileConfig, HomePath> = Row {
    key: "data_dir",
    env: &["EASEL_DATA_DIR"],
    file: |f| f.data_dir.as_deref().map(|s| HomePath(expand_home(s))),
    default: || default_data_dir().map(HomePath),
    show: |p| path_text(&p.0),
    check: any,
};
const DEFAULT_BACKEND: Row<FileConfig, String> = Row {
    key: "default_backend",
    env: &["EASEL_DEFAULT_BACKEND"],
    file: |f| f.default_backend.clone(),
    default: || Ok("modelscope".to_string()),
    show: plain,
    check: any,
};
const WAIT_SECONDS: Row<FileConfig, u64> = Row {
    key: "wait_seconds",
    env: &["EASEL_WAIT_SECONDS"],
    file: |f| f.wait_seconds,
    default: || Ok(DEFAULT_WAIT_SECONDS),
    show: secs,
    check: |v| match v {
        0..=MAX_WAIT_SECONDS => Ok(v),
        _ => Err(format!(
            "{v} is above the maximum of {MAX_WAIT_SECONDS}; use 0 to {MAX_WAIT_SECONDS}"
        )),
    },
};
const MAX_RUNNING_PER_BACKEND: Row<FileConfig, usize> = Row {
    key: "jobs.max_running_per_backend",
    env: &["EASEL_JOBS_MAX_RUNNING_PER_BACKEND"],
    file: |f| f.jobs.max_running_per_backend,
    default: || Ok(32),
    show: plain,
    check: any,
};
const MAX_QUEUED: Row<FileConfig, usize> = Row {
    key: "jobs.max_queued",
    env: &["EASEL_JOBS_MAX_QUEUED"],
    file: |f| f.jobs.max_queued,
    default: || Ok(1000),
    show: plain,
    check: any,
};
const LEASE_SECS: Row<FileConfig, u64> = Row {
    key: "jobs.lease_secs",
    env: &["EASEL_JOBS_LEASE_SECS"],
    file: |f| f.jobs.lease_secs,
    default: || Ok(30),
    show: secs,
    check: any,
};
const HEARTBEAT_MS: Row<FileConfig, u64> = Row {
    key: "jobs.heartbeat_ms",
    env: &["EASEL_JOBS_HEARTBEAT_MS"],
    file: |f| f.jobs.heartbeat_ms,
    default: || Ok(10_000),
    show: millis,
    check: any,
};
const DATABASE_URL: Row<FileConfig, Token> = Row {
    key: "jobs.database_url",
    env: &["EASEL_DATABASE_URL"],
    file: |f| f.jobs.database_url.clone().map(|t| Token(Some(t))),
    default: || Ok(Token(None)),
    show: shown_database_url,
    check: any,
};

/// The database URL without its password.
fn shown_database_url(t: &Token) -> String {
    use secrecy::ExposeSecret;
    match &t.0 {
        Some(url) => crate::jobs::shown_database_url(url.expose_secret()),
        None => "(not set: SQLite in data_dir)".to_string(),
    }
}

const MODELSCOPE_TOKEN: Row<FileConfig, Token> = Row {
    key: "modelscope.token",
    env: &[
        "EASEL_MODELSCOPE_TOKEN",
        "MODELSCOPE_SDK_TOKEN",
        "MODELSCOPE_API_TOKEN",
    ],
    file: |f| f.modelscope.token.clone().map(|t| Token(Some(t))),
    default: || Ok(Token(None)),
    show: shown_token,
    check: any,
};
/// `easel config` shows the URL as given; easel uses it with a trailing `/`.
const MODELSCOPE_BASE: Row<FileConfig, String> = Row {
    key: "modelscope.base_url",
    env: &["EASEL_MODELSCOPE_BASE_URL", "MODELSCOPE_BASE_URL"],
    file: |f| f.modelscope.base_url.clone(),
    default: || Ok(MODELSCOPE_BASE_URL.to_string()),
    show: plain,
    check: |mut url| {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "{url:?} is not an http(s) URL; use e.g. {MODELSCOPE_BASE_URL:?}"
            ));
        }
        if !url.ends_with('/') {
            url.push('/');
        }
        Ok(url)
    },
};
const MODELSCOPE_DEFAULT_MODEL: Row<FileConfig, String> = Row {
    key: "modelscope.default_model",
    env: &["EASEL_MODELSCOPE_MODEL"],
    file: |f| f.modelscope.default_model.clone(),
    default: || Ok(MODELSCOPE_MODEL.to_string()),
    show: plain,
    check: any,
};
const MODELSCOPE_POLL_INITIAL_MS: Row<FileConfig, u64> = Row {
    key: "modelscope.poll_initial_ms",
    env: &["EASEL_MODELSCOPE_POLL_INITIAL_MS"],
    file: |f| f.modelscope.poll_initial_ms,
    default: || Ok(250),
    show: millis,
    check: any,
};
const MODELSCOPE_POLL_MAX_MS: Row<FileConfig, u64> = Row {
    key: "modelscope.poll_max_ms",
    env: &["EASEL_MODELSCOPE_POLL_MAX_MS"],
    file: |f| f.modelscope.poll_max_ms,
    default: || Ok(5000),
    show: millis,
    check: any,
};
const MODELSCOPE_TIMEOUT_SECS: Row<FileConfig, u64> = Row {
    key: "modelscope.timeout_secs",
    env: &["EASEL_MODELSCOPE_TIMEOUT_SECS"],
    file: |f| f.modelscope.timeout_secs,
    default: || Ok(600),
    show: secs,
    check: any,
};
const MODELSCOPE_MAX_RETRIES: Row<FileConfig, u32> = Row {
    key: "modelscope.max_retries",
    env: &["EASEL_MODELSCOPE_MAX_RETRIES"],
    file: |f| f.modelscope.max_retries,
    default: || Ok(4),
    show: plain,
    check: any,
};
const MODELSCOPE_RETRY_BASE_MS: Row<FileConfig, u64> = Row {
    key: "modelscope.retry_base_ms",
    env: &["EASEL_MODELSCOPE_RETRY_BASE_MS"],
    file: |f| f.modelscope.retry_base_ms,
    default: || Ok(500),
    show: millis,
    check: any,
};
const MODELSCOPE_HTTP_TIMEOUT_SECS: Row<FileConfig, u64> = Row {
    key: "modelscope.http_timeout_secs",
    env: &["EASEL_MODELSCOPE_HTTP_TIMEOUT_SECS"],
    file: |f| f.modelscope.http_timeout_secs,
    default: || Ok(60),
    show: secs,
    check: any,
};

pub fn resolve(
    file: FileConfig,
    config_file: ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut r = Resolver {
        env,
        file: config_file.path.clone(),
        settings: Vec::new(),
    };
    let output_dir = r.get(&OUTPUT_DIR, &file)?.0;
    let data_dir = r.get(&DATA_DIR, &file)?.0;
    let default_backend = r.get(&DEFAULT_BACKEND, &file)?;
    let wait_seconds = r.get(&WAIT_SECONDS, &file)?;
    let max_running_per_backend = r.get(&MAX_RUNNING_PER_BACKEND, &file)?;
    let max_queued = r.get(&MAX_QUEUED, &file)?;
    let lease_secs = r.get(&LEASE_SECS, &file)?;
    let heartbeat_ms = r.get(&HEARTBEAT_MS, &file)?;
    let database_url = r.get(&DATABASE_URL, &file)?.0;
    let jobs = JobSettings {
        max_running_per_backend: max_running_per_backend.max(1),
        max_queued,
        lease: Duration::from_secs(lease_secs.max(1)),
        heartbeat: Duration::from_millis(heartbeat_ms.clamp(10, 10_000)),
        database_url,
    };
    let token = r.get(&MODELSCOPE_TOKEN, &file)?.0;
    let base_url = r.get(&MODELSCOPE_BASE, &file)?;
    let default_model = r.get(&MODELSCOPE_DEFAULT_MODEL, &file)?;
    let poll_initial = r.get(&MODELSCOPE_POLL_INITIAL_MS, &file)?;
    let poll_max = r.get(&MODELSCOPE_POLL_MAX_MS, &file)?;
    let timeout = r.get(&MODELSCOPE_TIMEOUT_SECS, &file)?;
    let max_retries = r.get(&MODELSCOPE_MAX_RETRIES, &file)?;
    let retry_base = r.get(&MODELSCOPE_RETRY_BASE_MS, &file)?;
    let http_timeout = r.get(&MODELSCOPE_HTTP_TIMEOUT_SECS, &file)?;

    let comfyui = super::comfy::resolve(&mut r, file.comfyui, &config_file.path)?;
    let providers =
        super::providers::resolve(file.providers, env, &config_file.path, &mut r.settings)?;
    super::comfy::check_pool_names(&comfyui, &providers, &config_file.path)?;
    let input_dirs: Vec<PathBuf> = match (
        env("EASEL_INPUT_DIRS").filter(|s| !s.is_empty()),
        file.input_dirs,
    ) {
        (Some(list), _) => std::env::split_paths(&list).collect(),
        (None, Some(list)) => list.iter().map(|s| expand_home(s)).collect(),
        (None, None) => Vec::new(),
    };
    r.settings.push(Setting {
        key: "input_dirs",
        value: if input_dirs.is_empty() {
            "(none; sources must be inside output_dir)".into()
        } else {
            input_dirs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
        source: Source::Default,
    });
    let http = super::http::resolve(&mut r, file.http)?;
    let publishing = super::publishers::resolve(
        file.publishers,
        file.default_publisher,
        env,
        &config_file.path,
        &mut r.settings,
    )?;
    let confirm = super::confirm::resolve(&mut r, file.confirm)?;

    Ok(Config {
        output_dir,
        data_dir,
        default_backend,
        wait_seconds,
        jobs,
        modelscope: ModelScopeSettings {
            token,
            base_url,
            default_model,
            poll_initial: Duration::from_millis(poll_initial),
            poll_max: Duration::from_millis(poll_max.max(poll_initial)),
            timeout: Duration::from_secs(timeout),
            max_retries,
            retry_base: Duration::from_millis(retry_base),
            http_timeout: Duration::from_secs(http_timeout.max(1)),
        },
        comfyui,
        providers,
        input_dirs,
        http,
        publishing,
        confirm,
        file: config_file,
        settings: r.settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::load;
    use secrecy::ExposeSecret;

    #[test]
    fn env_beats_file_beats_default_and_sources_are_recorded() {
        let c = load(
            "output_dir = \"/srv/img\"\n[modelscope]\npoll_max_ms = 2000\n",
            &[
                ("EASEL_OUTPUT_DIR", "/env/img"),
                ("MODELSCOPE_SDK_TOKEN", "ms-secret-1"),
            ],
        )
        .expect("config");
        assert_eq!(c.output_dir, PathBuf::from("/env/img"));
        assert_eq!(c.modelscope.poll_max, Duration::from_millis(2000));
        assert_eq!(c.modelscope.timeout, Duration::from_secs(600));
        let tok = c.modelscope.token.as_ref().expect("token");
        assert_eq!(tok.expose_secret(), "ms-secret-1");
        let find = |k: &str| c.settings.iter().find(|s| s.key == k).expect(k).clone();
        assert_eq!(
            find("output_dir").source,
            Source::Env("EASEL_OUTPUT_DIR".into())
        );
        assert!(matches!(
            find("modelscope.poll_max_ms").source,
            Source::File(_)
        ));
        assert_eq!(find("modelscope.timeout_secs").source, Source::Default);
        let shown = format!("{:?}", c.settings);
        assert!(!shown.contains("ms-secret-1"), "token leaked: {shown}");
        assert!(!format!("{c:?}").contains("ms-secret-1"));
    }

    #[test]
    fn prototype_token_names_and_base_url_work() {
        let c = load(
            "",
            &[
                ("MODELSCOPE_API_TOKEN", "ms-2"),
                ("MODELSCOPE_BASE_URL", "http://127.0.0.1:9"),
            ],
        )
        .expect("config");
        assert!(c.modelscope.token.is_some());
        assert_eq!(c.modelscope.base_url, "http://127.0.0.1:9/");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = load("[modelscope]\npoll_maxms = 3\n", &[]).expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("poll_maxms"), "{text}");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = load("", &[("EASEL_MODELSCOPE_TIMEOUT_SECS", "soon")]).expect_err("fail");
        let text = err.to_string();
        assert!(text.contains("EASEL_MODELSCOPE_TIMEOUT_SECS"), "{text}");
        assert!(text.contains("modelscope.timeout_secs"), "{text}");
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        let err = Config::load_with(
            Some(std::path::Path::new("/nonexistent/easel.toml")),
            &|_| None,
        )
        .expect_err("fail");
        assert!(err.to_string().contains("/nonexistent/easel.toml"));
    }
}
