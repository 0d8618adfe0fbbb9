//! Serving MCP: stdio (the default, one client launched by an MCP host) and HTTP
//! (`easel serve --http`: Streamable HTTP at `/mcp`, legacy HTTP+SSE at `/sse` +
//! `/messages`, health at `/healthz`). Every transport serves the same [`EaselServer`]
//! value, so tools, resources and the job store are shared.
//!
//! [`EaselServer`]: crate::service::EaselServer

mod auth;
pub mod conn;
pub mod fdlimit;
mod guard;
pub mod http;
mod jsonrpc;
mod limits;
mod shutdown;
mod sse;
mod stdio;

pub use stdio::stdio;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A plain-text refusal: clients show the body to people, so it says what to change.
fn refuse(status: StatusCode, text: impl Into<String>) -> Response {
    let mut response = (status, text.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A refusal that a client may retry after `secs` seconds (429, 503).
fn refuse_for_now(status: StatusCode, secs: u32, text: impl Into<String>) -> Response {
    let mut response = refuse(status, text);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}
