//! The `[comfyui]` section: one ComfyUI server (`url`) or several (`[[comfyui.servers]]`),
//! optionally grouped into pools that callers name as a backend, plus the workflows folder.
//!
//! ```toml
//! [comfyui]
//! resubmit_lost = false
//!
//! [[comfyui.servers]]
//! name = "gpu-a"
//! url = "http://10.0.0.5:8188"
//! weight = 2.0
//! pools = ["studio"]
//!
//! [[comfyui.servers]]
//! name = "gpu-b"
//! url = "https://comfy.example.com"
//! headers = { Authorization = "Bearer …" }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;
use super::paths::expand_home;
use super::settings::{HomePath, Resolver, Setting, Source, millis, path_text, plain, secs};
use super::table::{Row, any};

/// Name of the one server `comfyui.url` (or `COMFYUI_URL`) describes.
pub const DEFAULT_SERVER: &str = "default";

/// The `[comfyui]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComfyFile {
    /// Base URL of the ComfyUI server, when there is only one.
    pub url: Option<String>,
    /// Extra headers on every request (proxies, hosted ComfyUI); values are secrets. The
    /// default for servers that list none.
    pub headers: Option<BTreeMap<String, SecretString>>,
    pub timeout_secs: Option<u64>,
    pub http_timeout_secs: Option<u64>,
    pub poll_ms: Option<u64>,
    pub workflows_dir: Option<String>,
    pub default_workflow: Option<String>,
    /// Expose every workflow as its own MCP tool.
    pub workflow_tools: Option<bool>,
    /// Several servers to spread jobs over, instead of `url`.
    #[serde(default)]
    pub servers: Vec<ComfyServerFile>,
    /// Submit a job again elsewhere when its server dies mid-run (may repeat work).
    pub resubmit_lost: Option<bool>,
    /// How long a server running a job may stay unreachable before the job counts as lost.
    pub lost_after_secs: Option<u64>,
    /// Interval of health checks of a server that answers (a failing one is retried sooner).
    pub health_check_secs: Option<u64>,
}

/// One `[[comfyui.servers]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComfyServerFile {
    /// Stable name: stored in job tickets and shown by `backends` and `easel doctor`.
    pub name: String,
    pub url: String,
    /// Relative speed; a server of weight 2 is expected to clear its queue twice as fast.
    pub weight: Option<f64>,
    /// Replaces `comfyui.headers` for this server.
    pub headers: Option<BTreeMap<String, SecretString>>,
    pub timeout_secs: Option<u64>,
    pub http_timeout_secs: Option<u64>,
    /// Pools this server belongs to; each pool name is a backend of its own.
    #[serde(default)]
    pub pools: Vec<String>,
}

/// How easel talks to its ComfyUI servers and where the user's workflows are.
#[derive(Clone, Debug)]
pub struct ComfySettings {
    /// At least one; `comfyui.url` gives a single server called [`DEFAULT_SERVER`].
    pub servers: Vec<ComfyServer>,
    /// How often `/history` is polled while the WebSocket is down (and, slower, as a safety net).
    pub poll: Duration,
    pub workflows_dir: PathBuf,
    pub default_workflow: String,
    pub workflow_tools: bool,
    /// Submit a job again on another server when its server dies mid-run.
    pub resubmit_lost: bool,
    /// A server running a job may be unreachable this long before the job is reported lost.
    pub lost_after: Duration,
    /// Health checks of a server that answers; failing ones back off from 1 s to 30 s.
    pub health_every: Duration,
}

/// One ComfyUI server.
#[derive(Clone, Debug)]
pub struct ComfyServer {
    pub name: String,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8188`.
    pub url: String,
    pub weight: f64,
    /// Extra headers (name, secret value) sent on every HTTP and WebSocket request.
    pub headers: Vec<(String, SecretString)>,
    /// Give up on a job after this long.
    pub timeout: Duration,
    pub http_timeout: Duration,
    pub pools: Vec<String>,
}

impl ComfySettings {
    /// Every pool name, sorted.
    pub fn pools(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self.servers.iter().flat_map(|s| &s.pools).collect();
        names.into_iter().cloned().collect()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Adds `http://` to `host:port` (the prototype's COMFY_SERVER form), checks the scheme and
/// that there is a host, and drops a trailing slash.
fn normalize_url(url: &str) -> Result<String, String> {
    let example = "use e.g. \"http://127.0.0.1:8188\"";
    let given = url.trim();
    if given.is_empty() {
        return Err(format!("is empty; {example}"));
    }
    let url = if given.contains("://") {
        given.to_string()
    } else {
        format!("http://{given}")
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("{given:?} is not an http(s) URL; {example}"));
    }
    let has_host = reqwest::Url::parse(&url)
        .ok()
        .is_some_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
    if !has_host {
        return Err(format!("{given:?} is not a URL with a host; {example}"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn show_headers(headers: &[(String, SecretString)]) -> String {
    if headers.is_empty() {
        "(none)".into()
    } else {
        headers
            .iter()
            .map(|(k, _)| format!("{k}: (redacted)"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const TIMEOUT_SECS: Row<ComfyFile, u64> = Row {
    key: "comfyui.timeout_secs",
    env: &["EASEL_COMFYUI_TIMEOUT_SECS"],
    file: |f| f.timeout_secs,
    default: || Ok(1800),
    show: secs,
    check: any,
};
const HTTP_TIMEOUT_SECS: Row<ComfyFile, u64> = Row {
    key: "comfyui.http_timeout_secs",
    env: &["EASEL_COMFYUI_HTTP_TIMEOUT_SECS"],
    file: |f| f.http_timeout_secs,
    default: || Ok(30),
    show: secs,
    check: any,
};
const POLL_MS: Row<ComfyFile, u64> = Row {
    key: "comfyui.poll_ms",
    env: &["EASEL_COMFYUI_POLL_MS"],
    file: |f| f.poll_ms,
    default: || Ok(1000),
    show: millis,
    check: any,
};
const DEFAULT_WORKFLOW: Row<ComfyFile, String> = Row {
    key: "comfyui.default_workflow",
    env: &["EASEL_COMFYUI_WORKFLOW"],
    file: |f| f.default_workflow.clone(),
    default: || Ok("flux-dev".to_string()),
    show: plain,
    check: any,
};
const WORKFLOW_TOOLS: Row<ComfyFile, bool> = Row {
    key: "comfyui.workflow_tools",
    env: &["EASEL_COMFYUI_WORKFLOW_TOOLS"],
    file: |f| f.workflow_tools,
    default: || Ok(false),
    show: plain,
    check: any,
};
const RESUBMIT_LOST: Row<ComfyFile, bool> = Row {
    key: "comfyui.resubmit_lost",
    env: &["EASEL_COMFYUI_RESUBMIT_LOST"],
    file: |f| f.resubmit_lost,
    default: || Ok(false),
    show: plain,
    check: any,
};
const LOST_AFTER_SECS: Row<ComfyFile, u64> = Row {
    key: "comfyui.lost_after_secs",
    env: &["EASEL_COMFYUI_LOST_AFTER_SECS"],
    file: |f| f.lost_after_secs,
    default: || Ok(10),
    show: secs,
    check: any,
};
const HEALTH_CHECK_SECS: Row<ComfyFile, u64> = Row {
    key: "comfyui.health_check_secs",
    env: &["EASEL_COMFYUI_HEALTH_CHECK_SECS"],
    file: |f| f.health_check_secs,
    default: || Ok(10),
    show: secs,
    check: any,
};

pub(super) fn resolve(
    r: &mut Resolver<'_>,
    mut f: ComfyFile,
    config_path: &std::path::Path,
) -> Result<ComfySettings, ConfigError> {
    let file_source = Source::File(r.file.clone());
    let listed = !f.servers.is_empty();
    if listed && f.url.is_some() {
        return Err(ConfigError::Value {
            key: "comfyui.url".into(),
            origin: file_source,
            message: "is set together with [[comfyui.servers]]; list every server as a [[comfyui.servers]] entry (with a name) and remove comfyui.url".into(),
        });
    }
    // Not a row: whether comfyui.url is used depends on [[comfyui.servers]], and its line in
    // `easel config` says so.
    // The environment beats the file: a URL there means one server, whatever the file lists.
    let url = r.pick(
        "comfyui.url",
        &["EASEL_COMFYUI_URL", "COMFYUI_URL"],
        f.url.take(),
        || Ok("http://127.0.0.1:8188".to_string()),
        plain,
    )?;
    let url_source = r.last_source();
    let single = !listed || matches!(url_source, Source::Env(_));
    if !single && let Some(shown) = r.settings.last_mut() {
        shown.value = "(not used: [[comfyui.servers]] lists the servers)".into();
    }
    let url = normalize_url(&url).map_err(|message| ConfigError::Value {
        key: "comfyui.url".into(),
        origin: url_source.clone(),
        message,
    })?;
    let headers: Vec<(String, SecretString)> =
        f.headers.take().unwrap_or_default().into_iter().collect();
    r.settings.push(Setting {
        key: "comfyui.headers",
        value: show_headers(&headers),
        source: if headers.is_empty() {
            Source::Default
        } else {
            file_source.clone()
        },
    });
    let timeout = r.get(&TIMEOUT_SECS, &f)?;
    let http_timeout = r.get(&HTTP_TIMEOUT_SECS, &f)?;
    let servers = if single {
        if listed {
            r.settings.push(Setting {
                key: "comfyui.servers",
                value: format!(
                    "(the file lists {} server(s), ignored: the environment sets comfyui.url)",
                    f.servers.len()
                ),
                source: url_source,
            });
        }
        vec![ComfyServer {
            name: DEFAULT_SERVER.to_string(),
            url,
            weight: 1.0,
            headers,
            timeout: Duration::from_secs(timeout.max(1)),
            http_timeout: Duration::from_secs(http_timeout.max(1)),
            pools: Vec::new(),
        }]
    } else {
        servers(
            r,
            std::mem::take(&mut f.servers),
            &headers,
            timeout,
            http_timeout,
        )?
    };
    let poll = r.get(&POLL_MS, &f)?;
    let default_dir = config_path
        .parent()
        .map(|p| p.join("workflows"))
        .unwrap_or_else(|| PathBuf::from("workflows"));
    // Not a row: the default sits next to the configuration file, wherever that is.
    let workflows_dir = r
        .pick(
            "comfyui.workflows_dir",
            &["EASEL_WORKFLOWS_DIR"],
            f.workflows_dir.take().map(|s| HomePath(expand_home(&s))),
            || Ok(HomePath(default_dir)),
            |p| path_text(&p.0),
        )?
        .0;
    let default_workflow = r.get(&DEFAULT_WORKFLOW, &f)?;
    let workflow_tools = r.get(&WORKFLOW_TOOLS, &f)?;
    let resubmit_lost = r.get(&RESUBMIT_LOST, &f)?;
    let lost_after = r.get(&LOST_AFTER_SECS, &f)?;
    let health_every = r.get(&HEALTH_CHECK_SECS, &f)?;
    Ok(ComfySettings {
        servers,
        poll: Duration::from_millis(poll.max(10)),
        workflows_dir,
        default_workflow,
        workflow_tools,
        resubmit_lost,
        lost_after: Duration::from_secs(lost_after.max(1)),
        health_every: Duration::from_secs(health_every.max(1)),
    })
}

/// The `[[comfyui.servers]]` entries, checked: names, URLs, weights, pools.
fn servers(
    r: &mut Resolver<'_>,
    files: Vec<ComfyServerFile>,
    default_headers: &[(String, SecretString)],
    timeout: u64,
    http_timeout: u64,
) -> Result<Vec<ComfyServer>, ConfigError> {
    let origin = Source::File(r.file.clone());
    let mut out: Vec<ComfyServer> = Vec::with_capacity(files.len());
    for (i, f) in files.into_iter().enumerate() {
        let bad = |field: &str, message: String| ConfigError::Value {
            key: format!("comfyui.servers[{i}].{field}"),
            origin: origin.clone(),
            message,
        };
        if !valid_name(&f.name) {
            return Err(bad(
                "name",
                format!(
                    "{:?} cannot name a server; use 1 to 64 lowercase letters, digits, - and _ (e.g. \"gpu-a\")",
                    f.name
                ),
            ));
        }
        if let Some(other) = out.iter().find(|s| s.name == f.name) {
            return Err(bad(
                "name",
                format!(
                    "{:?} names two servers ({} and {}); give each server its own name",
                    f.name, other.url, f.url
                ),
            ));
        }
        let url = normalize_url(&f.url).map_err(|m| bad("url", m))?;
        if let Some(other) = out.iter().find(|s| s.url == url) {
            return Err(bad(
                "url",
                format!(
                    "{url} is already server {:?}; list each ComfyUI server once (raise its weight instead of listing it twice)",
                    other.name
                ),
            ));
        }
        let weight = f.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight > 0.0) {
            return Err(bad(
                "weight",
                format!(
                    "{weight} is not a positive number; use e.g. 1.0 (the default), or 2.0 for a server twice as fast"
                ),
            ));
        }
        let mut pools = f.pools;
        pools.sort();
        pools.dedup();
        if let Some(p) = pools.iter().find(|p| !valid_name(p)) {
            return Err(bad(
                "pools",
                format!(
                    "{p:?} cannot name a pool; use 1 to 64 lowercase letters, digits, - and _ (e.g. \"studio\")"
                ),
            ));
        }
        let headers: Vec<(String, SecretString)> = match f.headers {
            Some(h) => h.into_iter().collect(),
            None => default_headers.to_vec(),
        };
        let timeout = f.timeout_secs.unwrap_or(timeout).max(1);
        let http_timeout = f.http_timeout_secs.unwrap_or(http_timeout).max(1);
        r.settings.push(Setting {
            key: "comfyui.servers",
            value: format!(
                "{}: {url}, weight {weight}, pools {}, headers {}, timeout {timeout} s, http timeout {http_timeout} s",
                f.name,
                if pools.is_empty() {
                    "(none)".to_string()
                } else {
                    pools.join(", ")
                },
                show_headers(&headers)
            ),
            source: origin.clone(),
        });
        out.push(ComfyServer {
            name: f.name,
            url,
            weight,
            headers,
            timeout: Duration::from_secs(timeout),
            http_timeout: Duration::from_secs(http_timeout),
            pools,
        });
    }
    Ok(out)
}

/// A pool is a backend name, so it must not take the name of another backend.
pub(super) fn check_pool_names(
    comfy: &ComfySettings,
    providers: &[super::ProviderSettings],
    file: &std::path::Path,
) -> Result<(), ConfigError> {
    for (i, server) in comfy.servers.iter().enumerate() {
        for pool in &server.pools {
            let clash = if pool == "comfyui" || pool == "modelscope" {
                Some(format!("the {pool} backend"))
            } else {
                providers
                    .iter()
                    .any(|p| &p.name == pool)
                    .then(|| format!("the provider {pool}"))
            };
            if let Some(clash) = clash {
                return Err(ConfigError::Value {
                    key: format!("comfyui.servers[{i}].pools"),
                    origin: Source::File(file.to_path_buf()),
                    message: format!(
                        "pool {pool:?} of server {:?} has the name of {clash}, and a pool name is a backend name; rename the pool (e.g. \"{pool}-pool\")",
                        server.name
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use crate::config::testing::load;

    const TWO: &str = r#"
[comfyui]
headers = { Authorization = "Bearer shared-secret" }
timeout_secs = 900
resubmit_lost = true

[[comfyui.servers]]
name = "gpu-a"
url = "http://10.0.0.5:8188/"
weight = 2.0
pools = ["studio", "fast"]

[[comfyui.servers]]
name = "gpu-b"
url = "gpu-b.lan:8188"
headers = { "X-API-Key" = "own-secret" }
timeout_secs = 60
pools = ["studio"]
"#;

    #[test]
    fn servers_pools_and_fallbacks() {
        let c = load(TWO, &[]).expect("config");
        let s = &c.comfyui.servers;
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].name.as_str(), s[0].url.as_str()),
            ("gpu-a", "http://10.0.0.5:8188")
        );
        assert_eq!(s[0].weight, 2.0);
        assert_eq!(s[0].pools, vec!["fast".to_string(), "studio".to_string()]);
        assert_eq!(s[0].timeout.as_secs(), 900, "falls back to [comfyui]");
        assert_eq!(s[0].headers[0].1.expose_secret(), "Bearer shared-secret");
        assert_eq!(s[1].url, "http://gpu-b.lan:8188");
        assert_eq!(s[1].weight, 1.0);
        assert_eq!(s[1].timeout.as_secs(), 60);
        assert_eq!(s[1].headers.len(), 1, "own headers replace the shared ones");
        assert_eq!(s[1].headers[0].0, "X-API-Key");
        assert_eq!(
            c.comfyui.pools(),
            vec!["fast".to_string(), "studio".to_string()]
        );
        assert!(c.comfyui.resubmit_lost);
        // `easel config` lists each server, with header values redacted.
        let shown: Vec<String> = c
            .settings
            .iter()
            .filter(|s| s.key == "comfyui.servers")
            .map(|s| s.value.clone())
            .collect();
        assert_eq!(shown.len(), 2);
        assert!(
            shown[1].starts_with("gpu-b: http://gpu-b.lan:8188, weight 1"),
            "{shown:?}"
        );
        assert!(shown[1].contains("X-API-Key: (redacted)"), "{shown:?}");
        let all = format!("{:?} {c:?}", c.settings);
        assert!(
            !all.contains("own-secret") && !all.contains("shared-secret"),
            "{all}"
        );
    }

    #[test]
    fn one_url_is_a_pool_of_one_called_default() {
        let c = load("[comfyui]\nurl = \"http://127.0.0.1:9188\"\n", &[]).expect("config");
        assert_eq!(c.comfyui.servers.len(), 1);
        assert_eq!(c.comfyui.servers[0].name, "default");
        assert_eq!(c.comfyui.servers[0].url, "http://127.0.0.1:9188");
        assert!(c.comfyui.pools().is_empty());
        assert!(
            !c.comfyui.resubmit_lost,
            "off by default: it may repeat work"
        );
        let c = load("", &[("COMFYUI_URL", "127.0.0.1:8190")]).expect("config");
        assert_eq!(c.comfyui.servers[0].url, "http://127.0.0.1:8190");
    }

    #[test]
    fn an_environment_url_beats_the_listed_servers() {
        let c = load(TWO, &[("EASEL_COMFYUI_URL", "http://127.0.0.1:7000")]).expect("config");
        assert_eq!(c.comfyui.servers.len(), 1);
        assert_eq!(c.comfyui.servers[0].url, "http://127.0.0.1:7000");
        let note = c
            .settings
            .iter()
            .find(|s| s.key == "comfyui.servers")
            .expect("the ignored list is explained");
        assert!(note.value.contains("ignored"), "{}", note.value);
    }

    fn error(toml: &str) -> String {
        load(toml, &[]).expect_err("must fail").to_string()
    }

    #[test]
    fn mistakes_name_the_field_the_reason_and_the_fix() {
        let server = |extra: &str| {
            format!("[[comfyui.servers]]\nname = \"gpu-a\"\nurl = \"http://a:8188\"\n{extra}\n")
        };
        let e = error(&format!(
            "{}[[comfyui.servers]]\nname = \"gpu-a\"\nurl = \"http://b:8188\"\n",
            server("")
        ));
        assert!(
            e.contains("comfyui.servers[1].name")
                && e.contains("names two servers")
                && e.contains("own name"),
            "{e}"
        );
        let e = error(&server("weight = 0.0"));
        assert!(
            e.contains("comfyui.servers[0].weight") && e.contains("positive"),
            "{e}"
        );
        let e = error(&server("weight = -2.0"));
        assert!(e.contains("comfyui.servers[0].weight"), "{e}");
        let e = error("[[comfyui.servers]]\nname = \"GPU A\"\nurl = \"http://a:8188\"\n");
        assert!(
            e.contains("comfyui.servers[0].name") && e.contains("lowercase"),
            "{e}"
        );
        let e = error(&server("pools = [\"modelscope\"]"));
        assert!(
            e.contains("comfyui.servers[0].pools")
                && e.contains("modelscope")
                && e.contains("rename the pool"),
            "{e}"
        );
        let e = error(&server("pools = [\"comfyui\"]"));
        assert!(e.contains("backend name"), "{e}");
        let e = error(&format!(
            "{}[providers.studio]\nbase_url = \"https://api.example.com/v1\"\n",
            server("pools = [\"studio\"]")
        ));
        assert!(e.contains("the provider studio"), "{e}");
        let e = error(&format!("[comfyui]\nurl = \"http://x:1\"\n{}", server("")));
        assert!(
            e.contains("comfyui.url") && e.contains("[[comfyui.servers]]"),
            "{e}"
        );
        let e = error(&format!(
            "{}[[comfyui.servers]]\nname = \"gpu-b\"\nurl = \"http://a:8188/\"\n",
            server("")
        ));
        assert!(
            e.contains("comfyui.servers[1].url") && e.contains("already server"),
            "{e}"
        );
        let e = error(&server("url2 = \"x\""));
        assert!(e.contains("url2"), "unknown keys are named: {e}");
        let e = error("[[comfyui.servers]]\nname = \"gpu-a\"\nurl = \"ftp://a\"\n");
        assert!(
            e.contains("comfyui.servers[0].url") && e.contains("http(s)"),
            "{e}"
        );
    }

    #[test]
    fn server_urls_need_a_scheme_they_can_use_and_a_host() {
        for (url, why) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("ftp://host:21", "not an http(s) URL"),
            ("http://", "not a URL with a host"),
            ("http://:8188", "not a URL with a host"),
        ] {
            let toml = format!("[[comfyui.servers]]\nname = \"a\"\nurl = \"{url}\"\n");
            let err = load(&toml, &[]).expect_err(url).to_string();
            assert!(err.contains("url") && err.contains(why), "{url:?}: {err}");
        }
        let c = load(
            "[[comfyui.servers]]\nname = \"a\"\nurl = \"gpu:8188/\"\n",
            &[],
        )
        .expect("config");
        assert_eq!(c.comfyui.servers[0].url, "http://gpu:8188");
    }
}
