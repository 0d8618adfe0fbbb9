//! The `[http]` section: serving MCP over Streamable HTTP and legacy SSE
//! (`easel serve --http`). Kept apart from the other sections so that serving can change
//! without touching them.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;
use super::settings::{Resolver, Token, secs, shown_token};
use super::table::{Row, any};

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

const BIND: Row<HttpFile, SocketAddr> = Row {
    key: "http.bind",
    env: &["EASEL_HTTP_BIND"],
    file: |f| f.bind,
    default: || Ok(HttpSettings::default().bind),
    show: |a| a.to_string(),
    check: any,
};
const TOKEN: Row<HttpFile, Token> = Row {
    key: "http.token",
    env: &["EASEL_HTTP_TOKEN"],
    file: |f| f.token.clone().map(|t| Token(Some(t))),
    default: || Ok(Token(None)),
    show: shown_token,
    check: any,
};
const ALLOWED_HOSTS: Row<HttpFile, List> = Row {
    key: "http.allowed_hosts",
    env: &["EASEL_HTTP_ALLOWED_HOSTS"],
    file: |f| f.allowed_hosts.clone().map(List),
    default: || Ok(List(Vec::new())),
    show: show_list,
    check: any,
};
const ALLOWED_ORIGINS: Row<HttpFile, List> = Row {
    key: "http.allowed_origins",
    env: &["EASEL_HTTP_ALLOWED_ORIGINS"],
    file: |f| f.allowed_origins.clone().map(List),
    default: || Ok(List(Vec::new())),
    show: show_list,
    check: any,
};
const MAX_BODY_BYTES: Row<HttpFile, usize> = Row {
    key: "http.max_body_bytes",
    env: &["EASEL_HTTP_MAX_BODY_BYTES"],
    file: |f| f.max_body_bytes,
    default: || Ok(HttpSettings::default().max_body_bytes),
    show: |v| format!("{v} bytes"),
    check: any,
};
const MAX_SESSIONS: Row<HttpFile, usize> = Row {
    key: "http.max_sessions",
    env: &["EASEL_HTTP_MAX_SESSIONS"],
    file: |f| f.max_sessions,
    default: || Ok(HttpSettings::default().max_sessions),
    show: usize::to_string,
    check: any,
};
const MAX_REQUESTS_PER_SESSION: Row<HttpFile, usize> = Row {
    key: "http.max_requests_per_session",
    env: &["EASEL_HTTP_MAX_REQUESTS_PER_SESSION"],
    file: |f| f.max_requests_per_session,
    default: || Ok(HttpSettings::default().max_requests_per_session),
    show: usize::to_string,
    check: any,
};
const STATELESS: Row<HttpFile, Flag> = Row {
    key: "http.stateless",
    env: &["EASEL_HTTP_STATELESS"],
    file: |f| f.stateless.map(Flag),
    default: || Ok(Flag(HttpSettings::default().stateless)),
    show: |f| f.0.to_string(),
    check: any,
};
const SESSION_IDLE_SECS: Row<HttpFile, u64> = Row {
    key: "http.session_idle_secs",
    env: &["EASEL_HTTP_SESSION_IDLE_SECS"],
    file: |f| f.session_idle_secs,
    default: || Ok(HttpSettings::default().session_idle.as_secs()),
    show: secs,
    check: any,
};
const SHUTDOWN_GRACE_SECS: Row<HttpFile, u64> = Row {
    key: "http.shutdown_grace_secs",
    env: &["EASEL_HTTP_SHUTDOWN_GRACE_SECS"],
    file: |f| f.shutdown_grace_secs,
    default: || Ok(HttpSettings::default().shutdown_grace.as_secs()),
    show: secs,
    check: any,
};
const MAX_CONNECTIONS: Row<HttpFile, usize> = Row {
    key: "http.max_connections",
    env: &["EASEL_HTTP_MAX_CONNECTIONS"],
    file: |f| f.max_connections,
    default: || Ok(HttpSettings::default().max_connections),
    show: usize::to_string,
    check: any,
};
const HEADER_TIMEOUT_SECS: Row<HttpFile, u64> = Row {
    key: "http.header_timeout_secs",
    env: &["EASEL_HTTP_HEADER_TIMEOUT_SECS"],
    file: |f| f.header_timeout_secs,
    default: || Ok(HttpSettings::default().header_timeout.as_secs()),
    show: secs,
    check: any,
};
const IDLE_TIMEOUT_SECS: Row<HttpFile, u64> = Row {
    key: "http.idle_timeout_secs",
    env: &["EASEL_HTTP_IDLE_TIMEOUT_SECS"],
    file: |f| f.idle_timeout_secs,
    default: || Ok(HttpSettings::default().idle_timeout.as_secs()),
    show: secs,
    check: any,
};

pub(super) fn resolve(r: &mut Resolver<'_>, file: HttpFile) -> Result<HttpSettings, ConfigError> {
    let bind = r.get(&BIND, &file)?;
    let token = r.get(&TOKEN, &file)?.0;
    let allowed_hosts = r.get(&ALLOWED_HOSTS, &file)?.0;
    let allowed_origins = r.get(&ALLOWED_ORIGINS, &file)?.0;
    let max_body_bytes = r.get(&MAX_BODY_BYTES, &file)?;
    let max_sessions = r.get(&MAX_SESSIONS, &file)?;
    let max_requests_per_session = r.get(&MAX_REQUESTS_PER_SESSION, &file)?;
    let stateless = r.get(&STATELESS, &file)?.0;
    let session_idle_secs = r.get(&SESSION_IDLE_SECS, &file)?;
    let shutdown_grace_secs = r.get(&SHUTDOWN_GRACE_SECS, &file)?;
    let max_connections = r.get(&MAX_CONNECTIONS, &file)?;
    let header_timeout_secs = r.get(&HEADER_TIMEOUT_SECS, &file)?;
    let idle_timeout_secs = r.get(&IDLE_TIMEOUT_SECS, &file)?;
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

/// Compares a secret someone sent (the HTTP token) without an early exit, so the time taken does not tell an attacker how much of
/// a guess was right. It depends only on the length of `expected`.
pub fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_identical() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-tokeN", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token-", b"secret-token"));
        assert!(!constant_time_eq(b"secret-toke", b"secret-token"));
        assert!(!constant_time_eq(b"", b"secret-token"));
        assert!(constant_time_eq(b"", b""));
        // A prefix padded with zero bytes must not pass.
        assert!(!constant_time_eq(b"ab", b"ab\0"));
    }
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
