//! The gallery's refusals: JSON `{"error": "..."}` whose text names the field, the reason
//! and the fix, with the status that says whose move it is.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(413, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, message)
    }

    /// The store or another part of easel failed: not the caller's doing.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response =
            (status, Json(serde_json::json!({ "error": self.message }))).into_response();
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response
    }
}

impl From<crate::jobs::StoreError> for ApiError {
    fn from(e: crate::jobs::StoreError) -> ApiError {
        ApiError::internal(format!(
            "easel could not read its job store: {e}. Check the data folder, then reload."
        ))
    }
}
