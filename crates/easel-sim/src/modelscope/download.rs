//! `GET /img/{32 hex}.png`: the storage bucket that `output_images` point to
//! (contract 7, 12.13, 12.14).
//!
//! Like the real Alibaba Cloud OSS bucket it needs no auth; whether a client sent its
//! bearer token anyway is visible in the request log.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::images::Picture;
use super::state::Shared;
use super::wire;

/// What OSS answers for a missing or expired object.
const NO_SUCH_KEY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NoSuchKey</Code>\n  <Message>The specified key does not exist.</Message>\n</Error>\n";

/// A page that is not an image, as a captive portal or a misrouted URL gives.
const HTML_PAGE: &str =
    "<html><head><title>Access denied</title></head><body><h1>Access denied</h1></body></html>\n";

pub async fn download(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let (delay, gone, html, abort_after, body) = shared.config(|c| {
        (
            c.download_delay,
            c.download_404,
            c.download_html,
            c.download_abort_after,
            c.download_body.clone(),
        )
    });
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let picture = picture_name(&file).and_then(|name| Some((name, shared.picture(name)?)));
    let Some((name, picture)) = picture.filter(|_| !gone) else {
        return not_found();
    };
    if html {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            HTML_PAGE,
        )
            .into_response();
    }
    if let Some(body) = body {
        return ([(header::CONTENT_TYPE, "image/png")], body).into_response();
    }
    let png = match encoded(&shared, name, picture).await {
        Ok(png) => png,
        Err(error) => {
            tracing::error!(%error, "picture encoding task failed");
            return wire::upstream_error();
        }
    };
    match abort_after {
        Some(sent) if sent < png.len() => truncated(png, sent),
        _ => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
    }
}

/// The name inside `<32 lowercase hex>.png`.
fn picture_name(file: &str) -> Option<&str> {
    let name = file.strip_suffix(".png")?;
    let hex = name.len() == 32
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex.then_some(name)
}

/// The PNG bytes, encoded off the async threads on first use and cached.
async fn encoded(
    shared: &Shared,
    name: &str,
    picture: Picture,
) -> Result<Bytes, tokio::task::JoinError> {
    let mut fresh = false;
    let spec = picture.spec;
    let png = picture
        .encoded
        .get_or_try_init(|| {
            fresh = true;
            tokio::task::spawn_blocking(move || {
                Bytes::from(crate::picture::png(spec.width, spec.height, &spec.key))
            })
        })
        .await?
        .clone();
    if fresh {
        shared.picture_encoded(name);
    }
    Ok(png)
}

/// Announces the whole length, sends `sent` bytes, then fails the body so the server
/// drops the connection mid-transfer.
fn truncated(png: Bytes, sent: usize) -> Response {
    let total = png.len();
    let head = png.slice(..sent);
    // States: the head still to send, then the drop still to happen, then the end.
    let chunks = futures::stream::unfold(Some(Some(head)), |state| async move {
        match state? {
            Some(head) => Some((Ok(head), Some(None))),
            None => {
                // Let the server flush the head and the first bytes before the drop;
                // failing at once would lose them with the connection.
                tokio::task::yield_now().await;
                let drop = std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "simulated connection drop",
                );
                Some((Err(drop), None))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    response
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/xml")],
        NO_SUCH_KEY,
    )
        .into_response()
}
