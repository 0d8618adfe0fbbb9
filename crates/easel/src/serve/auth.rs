//! Bearer-token authentication for the MCP routes. rmcp has no server-side auth, so this is
//! an axum middleware in front of `/mcp`, `/sse` and `/messages`; `/healthz` stays open.
//!
//! The token is compared in constant time and never logged or echoed: a 401 says only what
//! is missing or wrong.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};

use super::refuse;
use crate::config::constant_time_eq;

/// The configured token.
pub struct Bearer {
    token: SecretString,
}

impl Bearer {
    pub fn new(token: SecretString) -> Self {
        Bearer { token }
    }

    fn check(&self, header: Option<&HeaderValue>) -> Result<(), Refusal> {
        let value = header.ok_or(Refusal::Missing)?;
        let value = value.to_str().map_err(|_| Refusal::NotBearer)?;
        let (scheme, given) = value.trim().split_once(' ').ok_or(Refusal::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::NotBearer);
        }
        if constant_time_eq(
            given.trim().as_bytes(),
            self.token.expose_secret().as_bytes(),
        ) {
            Ok(())
        } else {
            Err(Refusal::Wrong)
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Refusal {
    Missing,
    NotBearer,
    Wrong,
}

impl Refusal {
    fn response(self) -> Response {
        let (text, challenge) = match self {
            Refusal::Missing => (
                "Unauthorized: no Authorization header. This easel requires a bearer token: \
                 send `Authorization: Bearer <token>` with the token configured as \
                 EASEL_HTTP_TOKEN (or token in the [http] section of easel's configuration file).",
                "Bearer realm=\"easel\"",
            ),
            Refusal::NotBearer => (
                "Unauthorized: the Authorization header is not a bearer token; \
                 send `Authorization: Bearer <token>`.",
                "Bearer realm=\"easel\", error=\"invalid_request\"",
            ),
            Refusal::Wrong => (
                "Unauthorized: the bearer token is wrong; use the token configured as \
                 EASEL_HTTP_TOKEN (or token in the [http] section).",
                "Bearer realm=\"easel\", error=\"invalid_token\"",
            ),
        };
        let mut response = refuse(StatusCode::UNAUTHORIZED, text);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }
}

/// Lets a request through only with the right bearer token.
pub async fn require(State(bearer): State<Arc<Bearer>>, request: Request, next: Next) -> Response {
    match bearer.check(request.headers().get(header::AUTHORIZATION)) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            // What was wrong, never what was sent.
            tracing::warn!(path = %request.uri().path(), reason = ?refusal, "refused an MCP request without a valid bearer token");
            refusal.response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let b = Bearer::new(SecretString::from("tok-123".to_string()));
        let h = |s: &str| HeaderValue::from_str(s).expect("header");
        assert!(b.check(Some(&h("Bearer tok-123"))).is_ok());
        assert!(b.check(Some(&h("bearer  tok-123 "))).is_ok());
        assert!(matches!(b.check(None), Err(Refusal::Missing)));
        assert!(matches!(
            b.check(Some(&h("Basic dG9rLTEyMw=="))),
            Err(Refusal::NotBearer)
        ));
        assert!(matches!(
            b.check(Some(&h("Bearer tok-124"))),
            Err(Refusal::Wrong)
        ));
    }
}
