//! Host and Origin checks against DNS rebinding: a web page on an attacker's domain that
//! resolves to 127.0.0.1 makes the browser send `Host: attacker.example` and
//! `Origin: http://attacker.example`; both are refused here.
//!
//! rmcp checks `/mcp` itself; the legacy SSE routes get nothing from rmcp, so this
//! middleware runs in front of every MCP route and rmcp is given the same lists, so the two
//! checks always agree. Loopback names are always accepted (no rebinding attack can produce
//! them); the configuration adds names. A missing `Origin` passes: only browsers send one.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use super::refuse;
use crate::config::HttpSettings;

const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The entry that turns a check off (behind a reverse proxy that checks names itself).
const ANY: &str = "*";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn parse_authority(text: &str) -> Option<Authority> {
    let a = axum::http::uri::Authority::try_from(text.trim()).ok()?;
    Some(Authority {
        host: normalize_host(a.host()),
        port: a.port_u16(),
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Port {
    Any,
    Exact(u16),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum OriginRule {
    /// `Origin: null` (sandboxed frames, file: pages).
    Null,
    Tuple {
        scheme: String,
        host: String,
        port: Port,
    },
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// `scheme://host[:port|:*]`; without a port any port matches, as in rmcp.
fn parse_origin_rule(text: &str) -> Option<OriginRule> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("null") {
        return Some(OriginRule::Null);
    }
    let (base, any_port) = match text.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (text, false),
    };
    let uri = Uri::try_from(base).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let port = match (any_port, authority.port_u16()) {
        (true, Some(_)) => return None,
        (true, None) | (false, None) => Port::Any,
        (false, Some(p)) => Port::Exact(p),
    };
    Some(OriginRule::Tuple {
        scheme,
        host: normalize_host(authority.host()),
        port,
    })
}

/// The allow-lists, parsed once.
pub struct Guard {
    hosts: Option<Vec<Authority>>,
    origins: Option<Vec<OriginRule>>,
    /// The same lists in rmcp's syntax (`None`: check off).
    rmcp_hosts: Option<Vec<String>>,
    rmcp_origins: Option<Vec<String>>,
}

impl Guard {
    /// Loopback names, the bound address when it is a specific one, and the configured
    /// names. Entries that do not parse are reported and skipped.
    pub fn new(settings: &HttpSettings, bound: SocketAddr) -> Guard {
        let mut host_texts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        let ip = bound.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            // Clients that connect by IP send it as the Host; an IP cannot be rebound.
            host_texts.push(ip.to_string());
        }
        let any_host = settings.allowed_hosts.iter().any(|h| h.trim() == ANY);
        host_texts.extend(settings.allowed_hosts.iter().cloned());
        let hosts: Vec<Authority> = host_texts
            .iter()
            .filter(|t| t.trim() != ANY)
            .filter_map(|t| {
                // A bare IPv6 address is not an authority until bracketed.
                let parsed = parse_authority(t).or_else(|| parse_authority(&format!("[{t}]")));
                if parsed.is_none() {
                    tracing::warn!(entry = %t, "ignoring http.allowed_hosts entry that is not a host or host:port");
                }
                parsed
            })
            .collect();

        let mut origin_texts: Vec<String> = Vec::new();
        for scheme in ["http", "https"] {
            for host in ["localhost", "127.0.0.1", "[::1]"] {
                origin_texts.push(format!("{scheme}://{host}:*"));
            }
        }
        let any_origin = settings.allowed_origins.iter().any(|o| o.trim() == ANY);
        origin_texts.extend(
            settings
                .allowed_origins
                .iter()
                .filter(|o| o.trim() != ANY)
                .cloned(),
        );
        let origins: Vec<OriginRule> = origin_texts
            .iter()
            .filter_map(|t| {
                let parsed = parse_origin_rule(t);
                if parsed.is_none() {
                    tracing::warn!(entry = %t, "ignoring http.allowed_origins entry that is not scheme://host[:port|:*]");
                }
                parsed
            })
            .collect();

        Guard {
            rmcp_hosts: (!any_host).then(|| {
                hosts
                    .iter()
                    .map(|a| match a.port {
                        Some(p) if a.host.contains(':') => format!("[{}]:{p}", a.host),
                        Some(p) => format!("{}:{p}", a.host),
                        None => a.host.clone(),
                    })
                    .collect()
            }),
            rmcp_origins: (!any_origin).then(|| {
                origin_texts
                    .iter()
                    .filter(|t| parse_origin_rule(t).is_some())
                    .map(|t| {
                        // rmcp warns about port-less entries; ours mean any port, so say so.
                        match parse_origin_rule(t) {
                            Some(OriginRule::Tuple {
                                port: Port::Any, ..
                            }) if !t.trim().ends_with(":*") => format!("{}:*", t.trim()),
                            _ => t.trim().to_string(),
                        }
                    })
                    .collect()
            }),
            hosts: (!any_host).then_some(hosts),
            origins: (!any_origin).then_some(origins),
        }
    }

    pub fn rmcp_hosts(&self) -> Option<&[String]> {
        self.rmcp_hosts.as_deref()
    }

    pub fn rmcp_origins(&self) -> Option<&[String]> {
        self.rmcp_origins.as_deref()
    }

    fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refused> {
        if let Some(hosts) = &self.hosts {
            let host = match headers.get(header::HOST) {
                Some(v) => v.to_str().ok().and_then(parse_authority),
                // HTTP/2 carries the authority in the URI instead.
                None => uri.authority().and_then(|a| parse_authority(a.as_str())),
            };
            let host = host.ok_or(Refused::BadHost)?;
            let allowed = hosts
                .iter()
                .any(|a| a.host == host.host && a.port.is_none_or(|p| host.port == Some(p)));
            if !allowed {
                tracing::warn!(host = %host.host, "refused a request with a Host that is not allowed (possible DNS rebinding)");
                return Err(Refused::Host(host.host));
            }
        }
        if let (Some(rules), Some(value)) = (&self.origins, headers.get(header::ORIGIN))
            && !value.to_str().is_ok_and(|o| origin_allowed(rules, o))
        {
            tracing::warn!(origin = ?value, "refused a request from an Origin that is not allowed");
            return Err(Refused::Origin);
        }
        Ok(())
    }
}

fn origin_allowed(rules: &[OriginRule], origin: &str) -> bool {
    let origin = origin.trim();
    if origin.eq_ignore_ascii_case("null") {
        return rules.contains(&OriginRule::Null);
    }
    let Ok(uri) = Uri::try_from(origin) else {
        return false;
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    let host = normalize_host(authority.host());
    let port = authority.port_u16().or_else(|| default_port(&scheme));
    rules.iter().any(|rule| match rule {
        OriginRule::Null => false,
        OriginRule::Tuple {
            scheme: s,
            host: h,
            port: p,
        } => {
            *s == scheme
                && *h == host
                && match p {
                    Port::Any => true,
                    Port::Exact(p) => port == Some(*p),
                }
        }
    })
}

/// Why a request was refused; the response says what to configure.
#[derive(Debug)]
enum Refused {
    BadHost,
    Host(String),
    Origin,
}

impl Refused {
    fn response(self) -> Response {
        match self {
            Refused::BadHost => refuse(
                StatusCode::BAD_REQUEST,
                "Bad Request: missing or malformed Host header",
            ),
            Refused::Host(host) => refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "Forbidden: Host header is not allowed. If easel is reached by this name, add {host:?} to http.allowed_hosts (EASEL_HTTP_ALLOWED_HOSTS)."
                ),
            ),
            Refused::Origin => refuse(
                StatusCode::FORBIDDEN,
                "Forbidden: Origin header is not allowed. Add the web page's origin (scheme://host:port) to http.allowed_origins (EASEL_HTTP_ALLOWED_ORIGINS) if it should reach easel.",
            ),
        }
    }
}

/// Refuses requests whose Host or Origin is not allowed.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    match guard.check(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard(hosts: &[&str], origins: &[&str], bind: &str) -> Guard {
        let settings = HttpSettings {
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            ..HttpSettings::default()
        };
        Guard::new(&settings, bind.parse().expect("addr"))
    }

    fn ok(g: &Guard, host: &str, origin: Option<&str>) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).expect("origin"));
        }
        g.check(&Uri::from_static("/mcp"), &h).is_ok()
    }

    #[test]
    fn loopback_passes_and_foreign_names_do_not() {
        let g = guard(&[], &[], "127.0.0.1:8765");
        assert!(ok(&g, "127.0.0.1:8765", None));
        assert!(ok(&g, "localhost:1", Some("http://localhost:3000")));
        assert!(ok(&g, "[::1]:8765", Some("http://[::1]:99")));
        assert!(!ok(&g, "evil.example:8765", None));
        assert!(!ok(&g, "127.0.0.1:8765", Some("http://evil.example")));
        assert!(!ok(&g, "127.0.0.1:8765", Some("null")));
    }

    #[test]
    fn configured_names_ports_and_wildcards() {
        let g = guard(
            &["img.example.com", "other.example:9000"],
            &["https://app.example.com", "https://x.example:8443", "null"],
            "10.0.0.5:8765",
        );
        assert!(ok(&g, "IMG.example.com:8765", None));
        assert!(ok(&g, "10.0.0.5:8765", None));
        assert!(ok(&g, "other.example:9000", None));
        assert!(!ok(&g, "other.example:9001", None));
        assert!(ok(&g, "localhost", Some("https://app.example.com:1234")));
        assert!(ok(&g, "localhost", Some("https://x.example:8443")));
        assert!(!ok(&g, "localhost", Some("https://x.example")));
        assert!(!ok(&g, "localhost", Some("http://app.example.com")));
        assert!(ok(&g, "localhost", Some("null")));
        let open = guard(&["*"], &["*"], "0.0.0.0:1");
        assert!(ok(
            &open,
            "anything.example",
            Some("https://anywhere.example")
        ));
        assert!(open.rmcp_hosts().is_none() && open.rmcp_origins().is_none());
    }

    #[test]
    fn rmcp_gets_the_same_lists() {
        let g = guard(
            &["img.example.com:443"],
            &["https://app.example.com"],
            "[fe80::1]:1",
        );
        let hosts = g.rmcp_hosts().expect("hosts");
        assert!(
            hosts.contains(&"img.example.com:443".to_string()),
            "{hosts:?}"
        );
        assert!(hosts.contains(&"fe80::1".to_string()), "{hosts:?}");
        let origins = g.rmcp_origins().expect("origins");
        assert!(
            origins.contains(&"https://app.example.com:*".to_string()),
            "{origins:?}"
        );
        assert!(origins.contains(&"http://localhost:*".to_string()));
    }
}
