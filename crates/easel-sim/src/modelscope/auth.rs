//! Bearer-token check of the API routes (contract 1, 12.2).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::Shared;
use super::wire;

/// A refused caller; renders as the 401 answer.
#[derive(Debug)]
pub struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        wire::errors(StatusCode::UNAUTHORIZED, wire::AUTH_FAILED)
    }
}

/// The caller's token, or why not. The image route does not call this: storage URLs
/// need no auth (contract 7).
pub fn bearer(shared: &Shared, headers: &HeaderMap) -> Result<String, Unauthorized> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(Unauthorized);
    };
    let valid = shared.config(|c| {
        c.valid_tokens
            .as_ref()
            .is_none_or(|valid| valid.iter().any(|v| v == token))
    });
    if valid {
        Ok(token.to_owned())
    } else {
        Err(Unauthorized)
    }
}
