//! The Origin guard of contract 1, ComfyUI's `origin_only_middleware`: it stops a web
//! page from driving a local server through the user's browser. A request with
//! `Sec-Fetch-Site: cross-site` is refused, and so is one whose `Origin` host differs
//! from a loopback `Host`. Requests without `Origin` (every non-browser client) pass.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::state::Shared;
use super::wire;

/// Middleware: 403 (empty body) for requests the real server refuses.
pub async fn origin_guard(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if shared.config(|c| c.origin_guard) && refused(request.headers()) {
        return wire::empty(StatusCode::FORBIDDEN);
    }
    next.run(request).await
}

fn refused(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    let (Some(host), Some(origin)) = (header("host"), header("origin")) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let origin_netloc = origin
        .split_once("://")
        .map_or("", |(_, rest)| {
            rest.split(['/', '?', '#']).next().unwrap_or("")
        })
        .to_ascii_lowercase();
    let (host_name, host_port) = split_port(&host);
    let (origin_name, origin_port) = split_port(&origin_netloc);
    // Like upstream: a side without a port is compared by host name only.
    let host_side = if origin_port.is_none() {
        host_name
    } else {
        host.as_str()
    };
    let origin_side = if host_port.is_none() {
        origin_name
    } else {
        origin_netloc.as_str()
    };
    loopback(host_name)
        && !host_side.is_empty()
        && !origin_side.is_empty()
        && host_side != origin_side
}

/// Splits `host[:port]` (with `[v6]` brackets) into name and port.
fn split_port(netloc: &str) -> (&str, Option<&str>) {
    let netloc = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    if let Some(rest) = netloc.strip_prefix('[') {
        let (name, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (name, after.strip_prefix(':').filter(|p| !p.is_empty()));
    }
    match netloc.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() => (name, Some(port)),
        Some((name, _)) => (name, None),
        None => (netloc, None),
    }
}

fn loopback(name: &str) -> bool {
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => name == "localhost" || name.ends_with(".localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: &str, origin: Option<&str>, site: Option<&str>) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().unwrap());
        }
        if let Some(site) = site {
            headers.insert("sec-fetch-site", site.parse().unwrap());
        }
        refused(&headers)
    }

    #[test]
    fn matches_upstream_rules() {
        assert!(!check("127.0.0.1:8188", None, None));
        assert!(!check(
            "127.0.0.1:8188",
            Some("http://127.0.0.1:8188"),
            None
        ));
        assert!(check("127.0.0.1:8188", Some("http://evil.example"), None));
        assert!(check("127.0.0.1:8188", Some("http://127.0.0.1:9999"), None));
        assert!(!check("127.0.0.1:8188", Some("http://127.0.0.1"), None));
        assert!(!check("comfy.lan:8188", Some("http://evil.example"), None));
        assert!(check("127.0.0.1:8188", None, Some("cross-site")));
        assert!(!check("127.0.0.1:8188", None, Some("same-origin")));
        assert!(check(
            "localhost:8188",
            Some("http://evil.example:8188"),
            None
        ));
    }
}
