//! What happens to a call before its body is read: the bearer check (contract 1, 9.1)
//! and the injected account-level faults (429s, 500s, contract 9.5). The safety
//! refusals come later, after the latency, as the real models refuse after looking.

use axum::http::{HeaderMap, header};

use super::state::Shared;
use super::wire::ApiError;

/// Checks the bearer key, then the fault knobs; `Ok` lets the call through.
pub fn admit(shared: &Shared, headers: &HeaderMap, request_id: &str) -> Result<(), ApiError> {
    bearer(shared, headers)?;
    if shared.config(|c| c.insufficient_quota) {
        return Err(ApiError::insufficient_quota());
    }
    if shared.take_429() {
        return Err(ApiError::rate_limited());
    }
    if shared.take_500() {
        return Err(ApiError::server_error(request_id));
    }
    Ok(())
}

/// `Authorization: Bearer <key>`, the scheme in any case; the key must be non-empty and,
/// if keys are configured, one of them.
pub fn bearer(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, key) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        })
        .filter(|key| !key.is_empty());
    let Some(key) = key else {
        return Err(ApiError::no_key());
    };
    let valid = shared.config(|c| {
        c.valid_keys
            .as_ref()
            .is_none_or(|valid| valid.iter().any(|v| v == key))
    });
    if valid {
        Ok(())
    } else {
        Err(ApiError::wrong_key(key))
    }
}

/// The safety refusals switched on, checked once the (simulated) model has looked at
/// the request.
pub fn refusal(shared: &Shared, request_id: &str) -> Result<(), ApiError> {
    let (moderation, policy) = shared.config(|c| (c.moderation_block, c.content_policy));
    if moderation {
        return Err(ApiError::moderation_blocked(request_id));
    }
    if policy {
        return Err(ApiError::content_policy_violation());
    }
    Ok(())
}

/// Checks `model` against `known_models` (contract 5: 404 `model_not_found`).
pub fn known_model(shared: &Shared, model: &str) -> Result<(), ApiError> {
    let known = shared.config(|c| {
        c.known_models
            .as_ref()
            .is_none_or(|known| known.iter().any(|m| m == model))
    });
    if known {
        Ok(())
    } else {
        Err(ApiError::model_not_found(model))
    }
}
