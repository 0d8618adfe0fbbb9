//! Publishers: where `publish_note` sends a note. Any number, each named
//! (`[publishers.NAME]`), of three kinds: a xiaohongshu-mcp service (one per account), a
//! webhook, or a draft folder under the output root. A `draft` publisher named `draft`
//! always exists unless the name is taken, so publishing works with no configuration.
//! Tokens are read from the environment variable each publisher names, never from the file.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;
use super::settings::{Setting, Source};

/// What a publisher talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublisherKind {
    /// xiaohongshu-mcp's REST API (`github.com/xpzouying/xiaohongshu-mcp`).
    Xiaohongshu,
    /// A JSON POST to any URL (the prototype's `/create` body by default).
    Webhook,
    /// A folder under the output root with the images, `note.md` and `note.json`.
    Draft,
}

impl PublisherKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PublisherKind::Xiaohongshu => "xiaohongshu",
            PublisherKind::Webhook => "webhook",
            PublisherKind::Draft => "draft",
        }
    }
}

/// `[publishers.NAME]` as written. Keys that do not fit the kind are refused by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherFile {
    pub kind: PublisherKind,
    /// xiaohongshu: the service's base URL; webhook: the URL to POST to.
    pub url: Option<String>,
    /// Name of the environment variable holding a bearer token.
    pub token_env: Option<String>,
    /// webhook: extra headers; values are secrets.
    pub headers: Option<BTreeMap<String, SecretString>>,
    /// webhook: the JSON key of the body text, "desc" (the prototype's) or "content".
    pub text_field: Option<String>,
    /// draft: folder under the output root.
    pub dir: Option<String>,
    /// How long one publish may take before its outcome is "unknown".
    pub timeout_secs: Option<u64>,
    /// xiaohongshu: time-out of status and QR-code calls.
    pub status_timeout_secs: Option<u64>,
}

/// Where a resolved publisher sends notes.
#[derive(Clone, Debug)]
pub enum PublisherTarget {
    Xiaohongshu {
        /// Base URL without a trailing slash, e.g. `http://127.0.0.1:18060`.
        url: String,
        token_env: Option<String>,
        token: Option<SecretString>,
        timeout: Duration,
        status_timeout: Duration,
    },
    Webhook {
        url: String,
        token_env: Option<String>,
        token: Option<SecretString>,
        headers: Vec<(String, SecretString)>,
        /// "desc" or "content".
        text_field: String,
        timeout: Duration,
    },
    Draft {
        /// Folder relative to the output root.
        dir: String,
    },
}

#[derive(Clone, Debug)]
pub struct PublisherSettings {
    /// The name callers use.
    pub name: String,
    pub target: PublisherTarget,
}

impl PublisherSettings {
    /// The longest one publish through it can take: every request it sends is bounded by
    /// these time-outs (a draft is a local write).
    pub fn longest_send(&self) -> Duration {
        match &self.target {
            PublisherTarget::Xiaohongshu {
                timeout,
                status_timeout,
                ..
            } => *timeout + *status_timeout,
            PublisherTarget::Webhook { timeout, .. } => *timeout,
            PublisherTarget::Draft { .. } => Duration::ZERO,
        }
    }

    pub fn kind(&self) -> PublisherKind {
        match self.target {
            PublisherTarget::Xiaohongshu { .. } => PublisherKind::Xiaohongshu,
            PublisherTarget::Webhook { .. } => PublisherKind::Webhook,
            PublisherTarget::Draft { .. } => PublisherKind::Draft,
        }
    }
}

/// Every publisher, and which one a call without `publisher` uses.
#[derive(Clone, Debug)]
pub struct PublishingSettings {
    /// `None` when several are configured and none is the default: calls must name one,
    /// because a publish cannot be taken back.
    pub default_publisher: Option<String>,
    pub publishers: Vec<PublisherSettings>,
}

/// The name of the publisher that always exists.
pub const DRAFT: &str = "draft";
/// Publishing to a browser-driven service takes minutes (contract 5.4).
const XHS_TIMEOUT_SECS: u64 = 600;
const XHS_STATUS_TIMEOUT_SECS: u64 = 120;
const WEBHOOK_TIMEOUT_SECS: u64 = 60;

fn draft() -> PublisherSettings {
    PublisherSettings {
        name: DRAFT.to_string(),
        target: PublisherTarget::Draft {
            dir: "drafts".to_string(),
        },
    }
}

impl Default for PublishingSettings {
    fn default() -> Self {
        PublishingSettings {
            default_publisher: Some(DRAFT.to_string()),
            publishers: vec![draft()],
        }
    }
}

fn http_url(url: &str) -> Option<String> {
    // xiaohongshu-mcp is usually written "host:port", as its -port flag is.
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    (url.starts_with("http://") || url.starts_with("https://"))
        .then(|| url.trim_end_matches('/').to_string())
}

/// Which kinds each optional key of `[publishers.NAME]` applies to, in the order they are
/// checked; a key set on another kind is refused by name.
const KEYS: [(&str, &[PublisherKind]); 7] = {
    use PublisherKind::{Draft, Webhook, Xiaohongshu};
    [
        ("url", &[Xiaohongshu, Webhook]),
        ("token_env", &[Xiaohongshu, Webhook]),
        ("headers", &[Webhook]),
        ("text_field", &[Webhook]),
        ("dir", &[Draft]),
        ("timeout_secs", &[Xiaohongshu, Webhook]),
        ("status_timeout_secs", &[Xiaohongshu]),
    ]
};

impl PublisherFile {
    /// Whether the key (a name in `KEYS`) is set in the file.
    fn has(&self, key: &str) -> bool {
        match key {
            "url" => self.url.is_some(),
            "token_env" => self.token_env.is_some(),
            "headers" => self.headers.is_some(),
            "text_field" => self.text_field.is_some(),
            "dir" => self.dir.is_some(),
            "timeout_secs" => self.timeout_secs.is_some(),
            "status_timeout_secs" => self.status_timeout_secs.is_some(),
            _ => false,
        }
    }
}

pub fn resolve(
    files: BTreeMap<String, PublisherFile>,
    default_in_file: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    file_path: &std::path::Path,
    settings: &mut Vec<Setting>,
) -> Result<PublishingSettings, ConfigError> {
    let default_publisher = match env("EASEL_DEFAULT_PUBLISHER").filter(|s| !s.trim().is_empty()) {
        Some(n) => Some((
            n.trim().to_string(),
            Source::Env("EASEL_DEFAULT_PUBLISHER".into()),
        )),
        None => default_in_file.map(|n| (n, Source::File(file_path.to_path_buf()))),
    };
    let configured: Vec<String> = files.keys().cloned().collect();
    let mut out = Vec::new();
    for (name, f) in files {
        let bad = |message: String| ConfigError::Value {
            key: format!("publishers.{name}"),
            origin: Source::File(file_path.to_path_buf()),
            message,
        };
        let target = publisher_target(&name, f, env).map_err(bad)?;
        let p = PublisherSettings { name, target };
        settings.push(Setting {
            key: "publishers",
            value: describe(&p),
            source: Source::File(file_path.to_path_buf()),
        });
        out.push(p);
    }
    if !out.iter().any(|p| p.name == DRAFT) {
        let p = draft();
        settings.push(Setting {
            key: "publishers",
            value: describe(&p),
            source: Source::Default,
        });
        out.push(p);
    }
    let default_publisher = default_of(default_publisher, &configured, &out, settings)?;
    Ok(PublishingSettings {
        default_publisher,
        publishers: out,
    })
}

/// One `[publishers.NAME]` checked and resolved; the error text names the key and the fix.
fn publisher_target(
    name: &str,
    f: PublisherFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PublisherTarget, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{name:?} cannot name a publisher; use letters, digits, - and _"
        ));
    }
    let kind = f.kind;
    for (key, kinds) in KEYS {
        if f.has(key) && !kinds.contains(&kind) {
            return Err(format!(
                "{key} does not apply to kind = \"{}\"",
                kind.as_str()
            ));
        }
    }
    let token = |token_env: &Option<String>| {
        token_env
            .as_deref()
            .and_then(env)
            .filter(|t| !t.trim().is_empty())
            .map(|t| SecretString::from(t.trim().to_string()))
    };
    let url = |example: &str| -> Result<String, String> {
        let url = f
            .url
            .as_deref()
            .ok_or_else(|| format!("has no url; give {example}"))?;
        http_url(url).ok_or_else(|| format!("url {url:?} is not an http(s) URL"))
    };
    let seconds =
        |set: Option<u64>, default: u64| Duration::from_secs(set.unwrap_or(default).max(1));
    Ok(match kind {
        PublisherKind::Xiaohongshu => PublisherTarget::Xiaohongshu {
            url: url("xiaohongshu-mcp's address, e.g. \"http://127.0.0.1:18060\"")?,
            token: token(&f.token_env),
            token_env: f.token_env,
            timeout: seconds(f.timeout_secs, XHS_TIMEOUT_SECS),
            status_timeout: seconds(f.status_timeout_secs, XHS_STATUS_TIMEOUT_SECS),
        },
        PublisherKind::Webhook => {
            let url = url("the URL to POST notes to, e.g. \"http://127.0.0.1:5005/create\"")?;
            let text_field = f.text_field.unwrap_or_else(|| "desc".to_string());
            if !matches!(text_field.as_str(), "desc" | "content") {
                return Err(format!(
                    "text_field {text_field:?} is neither \"desc\" nor \"content\""
                ));
            }
            PublisherTarget::Webhook {
                url,
                token: token(&f.token_env),
                token_env: f.token_env,
                headers: f.headers.unwrap_or_default().into_iter().collect(),
                text_field,
                timeout: seconds(f.timeout_secs, WEBHOOK_TIMEOUT_SECS),
            }
        }
        PublisherKind::Draft => {
            let dir = f.dir.unwrap_or_else(|| "drafts".to_string());
            crate::outputs::validate_relative_dir(&dir).map_err(|e| format!("dir {dir:?}: {e}"))?;
            PublisherTarget::Draft { dir }
        }
    })
}

/// The default publisher: the one named (it must exist), else the only one configured
/// (or the draft folder when none is).
fn default_of(
    named: Option<(String, Source)>,
    configured: &[String],
    publishers: &[PublisherSettings],
    settings: &mut Vec<Setting>,
) -> Result<Option<String>, ConfigError> {
    match named {
        Some((name, source)) => {
            if !publishers.iter().any(|p| p.name == name) {
                let known: Vec<&str> = publishers.iter().map(|p| p.name.as_str()).collect();
                return Err(ConfigError::Value {
                    key: "default_publisher".into(),
                    origin: source,
                    message: format!(
                        "{name:?} is not a publisher; use one of: {}",
                        known.join(", ")
                    ),
                });
            }
            settings.push(Setting {
                key: "default_publisher",
                value: name.clone(),
                source,
            });
            Ok(Some(name))
        }
        None => {
            // One configured publisher is the obvious default; with several accounts a
            // wrong guess would post to the wrong one, so calls must name it.
            let chosen = match configured {
                [] => Some(DRAFT.to_string()),
                [only] => Some(only.clone()),
                _ => None,
            };
            settings.push(Setting {
                key: "default_publisher",
                value: chosen
                    .clone()
                    .unwrap_or_else(|| "(none: calls name a publisher)".into()),
                source: Source::Default,
            });
            Ok(chosen)
        }
    }
}

/// A webhook URL as easel shows it anywhere (results, errors, logs, `easel config`): its
/// origin only. Slack, Discord, Feishu and most other receivers put the secret in the
/// path or the query, so the rest is never shown.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) if u.path() == "/" && u.query().is_none() => u.origin().ascii_serialization(),
        Ok(u) => format!("{}/…", u.origin().ascii_serialization()),
        Err(_) => "(an URL easel cannot parse)".into(),
    }
}

/// One line of `easel config`, tokens and headers redacted.
fn describe(p: &PublisherSettings) -> String {
    let token = |env: &Option<String>, token: &Option<SecretString>| match (env, token) {
        (None, _) => "no token".to_string(),
        (Some(env), Some(_)) => format!("token from {env} (redacted)"),
        (Some(env), None) => format!("token missing (set {env})"),
    };
    match &p.target {
        PublisherTarget::Xiaohongshu {
            url,
            token_env,
            token: t,
            timeout,
            ..
        } => format!(
            "{}: xiaohongshu {url}, {}, publish time-out {} s",
            p.name,
            token(token_env, t),
            timeout.as_secs()
        ),
        PublisherTarget::Webhook {
            url,
            token_env,
            token: t,
            headers,
            text_field,
            ..
        } => format!(
            "{}: webhook {}, text in \"{text_field}\", {}, headers: {}",
            p.name,
            shown_url(url),
            token(token_env, t),
            if headers.is_empty() {
                "none".to_string()
            } else {
                headers
                    .iter()
                    .map(|(k, _)| format!("{k} (redacted)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        PublisherTarget::Draft { dir } => format!("{}: draft folder {dir}/", p.name),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::PublisherTarget;
    use crate::config::testing::load;

    /// Every key set on a kind it does not apply to is refused by name, and each kind's
    /// own keys are accepted (the `KEYS` table, checked in its order).
    #[test]
    fn keys_of_another_kind_are_refused_by_name() {
        let cases = [
            ("xiaohongshu", "headers = { X = \"1\" }", Some("headers")),
            ("xiaohongshu", "dir = \"d\"", Some("dir")),
            (
                "webhook",
                "status_timeout_secs = 5",
                Some("status_timeout_secs"),
            ),
            ("webhook", "dir = \"d\"", Some("dir")),
            ("draft", "token_env = \"T\"", Some("token_env")),
            ("draft", "timeout_secs = 5", Some("timeout_secs")),
            ("webhook", "text_field = \"content\"", None),
            ("xiaohongshu", "status_timeout_secs = 5", None),
        ];
        for (kind, line, refused) in cases {
            let url = if kind == "draft" {
                ""
            } else {
                "url = \"http://127.0.0.1:9\"\n"
            };
            let toml = format!("[publishers.p]\nkind = \"{kind}\"\n{url}{line}\n");
            match (load(&toml, &[]), refused) {
                (Err(e), Some(key)) => assert!(
                    e.to_string()
                        .contains(&format!("{key} does not apply to kind = \"{kind}\"")),
                    "{kind} {line}: {e}"
                ),
                (Ok(_), None) => {}
                (got, want) => panic!("{kind} {line}: {:?} (wanted {want:?})", got.err()),
            }
        }
        let Err(e) = load("[publishers.p]\nkind = \"webhook\"\n", &[]) else {
            panic!("a webhook without url was accepted");
        };
        assert!(
            e.to_string()
                .contains("has no url; give the URL to POST notes to"),
            "{e}"
        );
    }

    #[test]
    fn nothing_configured_gives_a_draft_default() {
        let c = load("", &[]).expect("config");
        assert_eq!(c.publishing.default_publisher.as_deref(), Some("draft"));
        assert_eq!(c.publishing.publishers.len(), 1);
    }

    #[test]
    fn accounts_tokens_and_redaction() {
        let c = load(
            "[publishers.main]\nkind = \"xiaohongshu\"\nurl = \"127.0.0.1:18060/\"\ntoken_env = \"XHS_TOKEN\"\n\
             [publishers.alt]\nkind = \"xiaohongshu\"\nurl = \"http://127.0.0.1:18061\"\n",
            &[("XHS_TOKEN", "xhs-secret-1")],
        )
        .expect("config");
        // Two accounts and no default: calls must say which.
        assert_eq!(c.publishing.default_publisher, None);
        let main = c
            .publishing
            .publishers
            .iter()
            .find(|p| p.name == "main")
            .expect("main");
        let PublisherTarget::Xiaohongshu { url, token, .. } = &main.target else {
            panic!("kind");
        };
        assert_eq!(url, "http://127.0.0.1:18060");
        assert!(token.is_some());
        let shown = format!("{:?} {c:?}", c.settings);
        assert!(!shown.contains("xhs-secret-1"), "{shown}");
    }

    #[test]
    fn misplaced_keys_and_unknown_defaults_are_named() {
        let e = load(
            "[publishers.d]\nkind = \"draft\"\nurl = \"http://x\"\n",
            &[],
        )
        .expect_err("url on a draft");
        assert!(e.to_string().contains("publishers.d"), "{e}");
        assert!(e.to_string().contains("url"), "{e}");
        let e = load("default_publisher = \"nope\"\n", &[]).expect_err("unknown default");
        assert!(e.to_string().contains("nope"), "{e}");
        let e = load("[publishers.x]\nkind = \"fax\"\n", &[]).expect_err("kind");
        assert!(e.to_string().contains("fax"), "{e}");
    }
}
