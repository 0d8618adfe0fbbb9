//! Error answers on the wire (contract sections 4, 5, 7.1 and 7.6).
//!
//! Handlers fail with an [`ApiError`] that says what went wrong in OpenAI's terms; it is
//! rendered at the end in the shape of the provider being imitated, so every text that
//! clients match on lives here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::config::ProviderMode;

/// Contract 5: the 401 text for a missing key (OpenAI's full sentence).
pub const NO_KEY: &str = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";

/// OpenAI's answer to a body that is not JSON.
pub const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

/// Contract 5: a size the model does not offer.
pub const INVALID_SIZE: &str = "The size is not supported by this model.";

/// The `type` new-api gateways put on their errors (contract 7.6).
pub const RELAY_TYPE: &str = "new_api_error";

/// Why a request failed, in OpenAI's terms.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The envelope's `type`.
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Extra `moderation_details` key of a `moderation_blocked` refusal.
    pub moderation_details: Option<Value>,
}

impl ApiError {
    /// A 400 `invalid_request_error`.
    pub fn invalid(
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            message,
            "invalid_request_error",
            param,
            code,
        )
    }

    /// Any error.
    pub fn new(
        status: StatusCode,
        message: impl Into<String>,
        kind: &'static str,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: param.map(str::to_owned),
            code,
            moderation_details: None,
        }
    }

    /// `Unknown parameter: '<name>'.` (contract 5, exact for `response_format`).
    pub fn unknown_parameter(name: &str) -> Self {
        Self::invalid(
            format!("Unknown parameter: '{name}'."),
            Some(name),
            Some("unknown_parameter"),
        )
    }

    /// `Missing required parameter: '<name>'.`
    pub fn missing(name: &str) -> Self {
        Self::invalid(
            format!("Missing required parameter: '{name}'."),
            Some(name),
            Some("missing_required_parameter"),
        )
    }

    /// A value outside the allowed list, in OpenAI's wording.
    pub fn invalid_value(name: &str, value: &str, allowed: &[&str]) -> Self {
        let quoted: Vec<String> = allowed.iter().map(|v| format!("'{v}'")).collect();
        let list = match quoted.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            Some((last, _)) => last.clone(),
            None => String::new(),
        };
        Self::invalid(
            format!("Invalid value: '{value}'. Supported values are: {list}."),
            Some(name),
            Some("invalid_value"),
        )
    }

    /// A value of the wrong JSON type.
    pub fn invalid_type(name: &str, expected: &str, got: &str) -> Self {
        Self::invalid(
            format!("Invalid type for '{name}': expected {expected}, but got {got} instead."),
            Some(name),
            Some("invalid_type"),
        )
    }

    /// Contract 5: 400 `invalid_size`.
    pub fn invalid_size() -> Self {
        Self::invalid(INVALID_SIZE, None, Some("invalid_size"))
    }

    /// Contract 5: 401 for a missing key.
    pub fn no_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            NO_KEY,
            "invalid_request_error",
            None,
            None,
        )
    }

    /// Contract 5: 401 for a wrong key, quoting it masked.
    pub fn wrong_key(key: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                mask_key(key)
            ),
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        )
    }

    /// Contract 5: 404 `model_not_found`.
    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            None,
            Some("model_not_found"),
        )
    }

    /// Contract 5: retryable 429 (rendered with `Retry-After: 1`).
    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for gpt-image-1 in organization org-sim on images per minute (IPM): Limit 5, Used 5, Requested 1. Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.",
            "requests",
            None,
            Some("rate_limit_exceeded"),
        )
    }

    /// Contract 5: 429 `insufficient_quota`, not retryable.
    pub fn insufficient_quota() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            None,
            Some("insufficient_quota"),
        )
    }

    /// Contract 5: 500 `server_error`.
    pub fn server_error(request_id: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "The server had an error while processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if the error persists. (Please include the request ID {request_id} in your message.)"
            ),
            "server_error",
            None,
            None,
        )
    }

    /// Contract 5: the GPT image safety refusal, with `moderation_details`.
    pub fn moderation_blocked(request_id: &str) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            format!(
                "Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID {request_id}. safety_violations=[violence]."
            ),
            "image_generation_user_error",
            None,
            Some("moderation_blocked"),
        );
        error.moderation_details = Some(json!({
            "moderation_stage": "input",
            "categories": ["violence"],
        }));
        error
    }

    /// Contract 5: the DALL·E safety refusal.
    pub fn content_policy_violation() -> Self {
        Self::invalid(
            "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
            None,
            Some("content_policy_violation"),
        )
    }

    /// The answer in the shape of `mode`. A `rate_limit_exceeded` carries
    /// `Retry-After: 1` (contract 9.5).
    pub fn render(self, mode: &ProviderMode, request_id: &str) -> Response {
        let retry_after = (self.code == Some("rate_limit_exceeded")).then_some(1u64);
        let mut response = match mode {
            ProviderMode::OpenAi => self.openai_body(),
            ProviderMode::Relay => self.relay_body(request_id),
            ProviderMode::SiliconFlow => self.siliconflow_body(),
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }

    /// Contract 4: `{"error": {"message", "type", "param", "code"}}` plus extras.
    fn openai_body(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        });
        if let (Some(details), Some(object)) = (self.moderation_details, error.as_object_mut()) {
            object.insert("moderation_details".to_owned(), details);
        }
        (self.status, axum::Json(json!({ "error": error }))).into_response()
    }

    /// Contract 7.6: the gateway's `type`, `param` as `""` when absent, and its request
    /// id appended to the message.
    fn relay_body(self, request_id: &str) -> Response {
        let mut error = json!({
            "message": format!("{} (request id: {request_id})", self.message),
            "type": RELAY_TYPE,
            "param": self.param.unwrap_or_default(),
            "code": self.code,
        });
        if let (Some(details), Some(object)) = (self.moderation_details, error.as_object_mut()) {
            object.insert("moderation_details".to_owned(), details);
        }
        (self.status, axum::Json(json!({ "error": error }))).into_response()
    }

    /// Contract 7.1: SiliconFlow's own bodies: a plain-text 401, `{"message", "data"}`
    /// for 429, `{"code", "message", "data"}` otherwise (20012 for bad input, 50505 for
    /// server trouble).
    fn siliconflow_body(self) -> Response {
        match self.status {
            StatusCode::UNAUTHORIZED => (
                self.status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Invalid token",
            )
                .into_response(),
            StatusCode::TOO_MANY_REQUESTS => (
                self.status,
                axum::Json(json!({"message": self.message, "data": null})),
            )
                .into_response(),
            status => {
                let code = if status.is_server_error() {
                    50505
                } else {
                    20012
                };
                (
                    status,
                    axum::Json(json!({"code": code, "message": self.message, "data": null})),
                )
                    .into_response()
            }
        }
    }
}

/// How OpenAI quotes a wrong key: its prefix (`sk-proj-`, `sk-`), four stars and the
/// last four characters. Short keys are quoted whole.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return key.to_owned();
    }
    let prefix = ["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-"]
        .into_iter()
        .find(|p| key.starts_with(p))
        .unwrap_or("");
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}****{tail}")
}

/// A fresh `x-request-id`, in OpenAI's `req_<32 hex>` form.
pub fn request_id() -> String {
    format!("req_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_like_openai() {
        assert_eq!(mask_key("sk-proj-abcdefghijklmnop1234"), "sk-proj-****1234");
        assert_eq!(mask_key("sk-0123456789abcd"), "sk-****abcd");
        assert_eq!(mask_key("wrong-key-9876"), "****9876");
        assert_eq!(mask_key("short"), "short");
    }

    #[test]
    fn value_lists_read_like_openai() {
        let error = ApiError::invalid_value("response_format", "png", &["url", "b64_json"]);
        assert_eq!(
            error.message,
            "Invalid value: 'png'. Supported values are: 'url' and 'b64_json'."
        );
        let error = ApiError::invalid_value("q", "x", &["a", "b", "c"]);
        assert_eq!(
            error.message,
            "Invalid value: 'x'. Supported values are: 'a', 'b' and 'c'."
        );
    }
}
