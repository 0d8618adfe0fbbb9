//! The `[http]` section: serving MCP over Streamable HTTP and legacy SSE
//! (`easel serve --http`). Kept apart from the other sections so that serving can change
//! without touching them.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;
use super::settings::Resolver;

/// Where `easel serve --http` listens when neither the command line nor the configuration
/// names an address: loopback only.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT);
pub const DEFAULT_PORT: u16 = 8765;

/// The `[http]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFile {
    /// Address to listen on, e.g. "127.0.0.1:8765".
    pub bind: Option<SocketAddr>,
    /// Bearer token every MCP request must carry (prefer EASEL_HTTP_TOKEN).
    pub token: Option<SecretString>,
    /// Host names (optionally host:port) accepted in the Host header, besides loopback.
    pub allowed_hosts: Option<Vec<String>>,
    /// Browser origins accepted in the Origin header, besides loopback ones.
    pub allowed_origins: Option<Vec<String>>,
    /// Largest request body accepted.
    pub max_body_bytes: Option<usize>,
    /// Concurrent MCP sessions (Streamable HTTP and SSE together, plus stateless requests in
    /// flight).
    pub max_sessions: Option<usize>,
    /// Requests in flight at once within one session.
    pub max_requests_per_session: Option<usize>,
    /// Serve Streamable HTTP without sessions, answering plain JSON where possible.
    pub stateless: Option<bool>,
    /// Close a Streamable HTTP session after this long without any activity.
    pub session_idle_secs: Option<u64>,
    /// On SIGINT/SIGTERM, how long open connections and in-flight writes may take to finish.
    pub shutdown_grace_secs: Option<u64>,
    /// Open TCP connections at once (further ones are answered 503 and closed); lowered
    /// at start to fit the process's file limit.
    pub max_connections: Option<usize>,
    /// Close a connection whose request headers are not complete this long after it opened
    /// (or after the first byte of a following request).
    pub header_timeout_secs: Option<u64>,
    /// Close a keep-alive connection after this long between requests.
    pub idle_timeout_secs: Option<u64>,
}

/// How easel serves MCP over HTTP.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub bind: SocketAddr,
    /// Required for any non-loopback bind; compared in constant time, never logged.
    pub token: Option<SecretString>,
    /// Extra Host names; loopback names are always accepted. `"*"` accepts any Host.
    pub allowed_hosts: Vec<String>,
    /// Extra Origins; loopback origins are always accepted. `"*"` accepts any Origin.
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub max_sessions: usize,
    pub max_requests_per_session: usize,
    pub stateless: bool,
    pub session_idle: Duration,
    pub shutdown_grace: Duration,
    /// Configured connection cap; the effective one also fits the file limit
    /// (see `serve::fdlimit`).
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            bind: DEFAULT_BIND,
            token: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: 4 * 1024 * 1024,
            max_sessions: 64,
            max_requests_per_session: 16,
            stateless: false,
            session_idle: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 1024,
            // Ample for any client on any link; an attacker's silent connection goes soon.
            header_timeout: Duration::from_secs(10),
            // Longer than common clients' own pool expiry (reqwest 90 s), so the client,
            // not easel, normally closes an idle connection and never reuses a dying one.
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// A comma-separated list in the environment, an array in the file.
struct List(Vec<String>);

impl FromStr for List {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(List(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
        ))
    }
}

fn show_list(l: &List) -> String {
    if l.0.is_empty() {
        "(loopback only)".to_string()
    } else {
        format!("loopback + {}", l.0.join(", "))
    }
}

/// A yes/no value: the environment also accepts 1/0, yes/no, on/off.
pub(super) struct Flag(pub(super) bool);

impl FromStr for Flag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Flag(true)),
            "0" | "false" | "no" | "off" => Ok(Flag(false)),
            other => Err(format!("{other:?} is not true or false")),
        }
    }
}

/// The token is only ever shown as set or not set.
struct Token(Option<SecretString>);

impl FromStr for Token {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Token(Some(SecretString::from(s.to_string()))))
    }
}

pub(super) fn resolve(r: &mut Resolver<'_>, file: HttpFile) -> Result<HttpSettings, ConfigError> {
    let d = HttpSettings::default();
    let bind = r.pick(
        "http.bind",
        &["EASEL_HTTP_BIND"],
        file.bind,
        || Ok(d.bind),
        |a| a.to_string(),
    )?;
    let token = r
        .pick(
            "http.token",
            &["EASEL_HTTP_TOKEN"],
            file.token.map(|t| Token(Some(t))),
            || Ok(Token(None)),
            |t| match t.0 {
                Some(_) => "(set, redacted)".to_string(),
                None => "(not set)".to_string(),
            },
        )?
        .0;
    let allowed_hosts = r
        .pick(
            "http.allowed_hosts",
            &["EASEL_HTTP_ALLOWED_HOSTS"],
            file.allowed_hosts.map(List),
            || Ok(List(Vec::new())),
            show_list,
        )?
        .0;
    let allowed_origins = r
        .pick(
            "http.allowed_origins",
            &["EASEL_HTTP_ALLOWED_ORIGINS"],
            file.allowed_origins.map(List),
            || Ok(List(Vec::new())),
            show_list,
        )?
        .0;
    let max_body_bytes = r.pick(
        "http.max_body_bytes",
        &["EASEL_HTTP_MAX_BODY_BYTES"],
        file.max_body_bytes,
        || Ok(d.max_body_bytes),
        |v| format!("{v} bytes"),
    )?;
    let max_sessions = r.pick(
        "http.max_sessions",
        &["EASEL_HTTP_MAX_SESSIONS"],
        file.max_sessions,
        || Ok(d.max_sessions),
        usize::to_string,
    )?;
    let max_requests_per_session = r.pick(
        "http.max_requests_per_session",
        &["EASEL_HTTP_MAX_REQUESTS_PER_SESSION"],
        file.max_requests_per_session,
        || Ok(d.max_requests_per_session),
        usize::to_string,
    )?;
    let stateless = r
        .pick(
            "http.stateless",
            &["EASEL_HTTP_STATELESS"],
            file.stateless.map(Flag),
            || Ok(Flag(d.stateless)),
            |f| f.0.to_string(),
        )?
        .0;
    let session_idle_secs = r.pick(
        "http.session_idle_secs",
        &["EASEL_HTTP_SESSION_IDLE_SECS"],
        file.session_idle_secs,
        || Ok(d.session_idle.as_secs()),
        |v| format!("{v} s"),
    )?;
    let shutdown_grace_secs = r.pick(
        "http.shutdown_grace_secs",
        &["EASEL_HTTP_SHUTDOWN_GRACE_SECS"],
        file.shutdown_grace_secs,
        || Ok(d.shutdown_grace.as_secs()),
        |v| format!("{v} s"),
    )?;
    let max_connections = r.pick(
        "http.max_connections",
        &["EASEL_HTTP_MAX_CONNECTIONS"],
        file.max_connections,
        || Ok(d.max_connections),
        usize::to_string,
    )?;
    let header_timeout_secs = r.pick(
        "http.header_timeout_secs",
        &["EASEL_HTTP_HEADER_TIMEOUT_SECS"],
        file.header_timeout_secs,
        || Ok(d.header_timeout.as_secs()),
        |v| format!("{v} s"),
    )?;
    let idle_timeout_secs = r.pick(
        "http.idle_timeout_secs",
        &["EASEL_HTTP_IDLE_TIMEOUT_SECS"],
        file.idle_timeout_secs,
        || Ok(d.idle_timeout.as_secs()),
        |v| format!("{v} s"),
    )?;
    Ok(HttpSettings {
        bind,
        token,
        allowed_hosts,
        allowed_origins,
        // Zero would refuse every request; one byte is the least that means anything.
        max_body_bytes: max_body_bytes.max(1),
        max_sessions: max_sessions.max(1),
        max_requests_per_session: max_requests_per_session.max(1),
        stateless,
        session_idle: Duration::from_secs(session_idle_secs.max(1)),
        shutdown_grace: Duration::from_secs(shutdown_grace_secs),
        max_connections: max_connections.max(1),
        // Zero would close every connection before its first request could arrive.
        header_timeout: Duration::from_secs(header_timeout_secs.max(1)),
        idle_timeout: Duration::from_secs(idle_timeout_secs.max(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use crate::config::testing::load;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_are_loopback_and_tokenless() {
        let c = load("", &[]).expect("config");
        assert_eq!(c.http.bind, DEFAULT_BIND);
        assert!(c.http.token.is_none());
        assert_eq!(c.http.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(c.http.max_sessions, 64);
        assert!(!c.http.stateless);
        assert_eq!(c.http.max_connections, 1024);
        assert_eq!(c.http.header_timeout, Duration::from_secs(10));
        assert_eq!(c.http.idle_timeout, Duration::from_secs(120));
        let c = load(
            "[http]\nmax_connections = 0\nheader_timeout_secs = 3\n",
            &[("EASEL_HTTP_IDLE_TIMEOUT_SECS", "0")],
        )
        .expect("config");
        assert_eq!(c.http.max_connections, 1);
        assert_eq!(c.http.header_timeout, Duration::from_secs(3));
        assert_eq!(c.http.idle_timeout, Duration::from_secs(1));
    }

    #[test]
    fn file_and_env_layer_and_the_token_stays_secret() {
        let c = load(
            "[http]\nbind = \"0.0.0.0:9000\"\ntoken = \"file-token-123456789\"\nallowed_hosts = [\"img.example.com\"]\nmax_sessions = 8\n",
            &[
                ("EASEL_HTTP_TOKEN", "env-token-abcdefghijk"),
                ("EASEL_HTTP_ALLOWED_ORIGINS", "https://a.example:443, https://b.example:*"),
                ("EASEL_HTTP_STATELESS", "yes"),
            ],
        )
        .expect("config");
        assert_eq!(c.http.bind, "0.0.0.0:9000".parse().expect("addr"));
        let token = c.http.token.as_ref().expect("token");
        assert_eq!(token.expose_secret(), "env-token-abcdefghijk");
        assert_eq!(c.http.allowed_hosts, vec!["img.example.com"]);
        assert_eq!(
            c.http.allowed_origins,
            vec!["https://a.example:443", "https://b.example:*"]
        );
        assert!(c.http.stateless);
        assert_eq!(c.http.max_sessions, 8);
        let find = |k: &str| c.settings.iter().find(|s| s.key == k).expect(k).clone();
        assert_eq!(
            find("http.token").source,
            Source::Env("EASEL_HTTP_TOKEN".into())
        );
        assert!(matches!(find("http.bind").source, Source::File(_)));
        let shown = format!("{:?} {:?}", c.settings, c);
        assert!(!shown.contains("env-token"), "token leaked: {shown}");
        assert!(!shown.contains("file-token"), "token leaked: {shown}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load("", &[("EASEL_HTTP_BIND", "everywhere")]).expect_err("fail");
        assert!(err.to_string().contains("EASEL_HTTP_BIND"), "{err}");
        let err = load("[http]\nbnid = \"x\"\n", &[]).expect_err("fail");
        assert!(err.to_string().contains("bnid"), "{err}");
    }
}
