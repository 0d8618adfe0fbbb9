//! Saved images and their thumbnails, served only by job id and image index: the path comes
//! from the job store, never from the URL, and the file actually opened must be inside the
//! output root (`OutputRoot::open_inside`). Saved files never change, so answers are
//! cached for a year.

use std::io::Read;

use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Gallery;
use super::error::ApiError;
use super::range::{self, Part};
use crate::jobs::SavedImage;
use crate::outputs::MediaClass;

/// Job ids easel makes are 32 hex digits; a little more is allowed, nothing else.
pub fn valid_job_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Largest file served whole (videos are at most 256 MiB when saved).
const MAX_SERVED_BYTES: u64 = 256 * 1024 * 1024;

/// The content type a stored mime may be served as: an image or video type in plain
/// characters, or nothing (`text/html` stored by a bug must never reach a browser as such).
fn servable_mime(mime: &str) -> Option<HeaderValue> {
    let plain = mime
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"/.+-".contains(&b));
    let (kind, sub) = mime.split_once('/')?;
    // SVG and any `+xml` type are documents a browser runs script in when opened directly.
    let allowed = matches!(kind, "image" | "video")
        && !sub.is_empty()
        && !sub.contains("svg")
        && !sub.contains("xml");
    (plain && allowed)
        .then(|| HeaderValue::from_str(mime).ok())
        .flatten()
}

/// The job's image `index`, looked up in the store.
async fn stored_image(g: &Gallery, id: &str, index: &str) -> Result<SavedImage, ApiError> {
    if !valid_job_id(id) {
        return Err(ApiError::not_found(
            "job_id: is not a job id (letters, digits and '-'). Use the links the gallery gives.",
        ));
    }
    let index: u32 = index
        .parse()
        .ok()
        .filter(|_| index.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ApiError::not_found("index: is not an image number (0, 1, …)."))?;
    let jobs = g.jobs.clone();
    let owned = id.to_string();
    let job = tokio::task::spawn_blocking(move || jobs.get(&owned))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "job {id}: no such job in this easel's store. It may have been pruned."
            ))
        })?;
    job.images
        .into_iter()
        .find(|img| img.index == index)
        .ok_or_else(|| ApiError::not_found(format!("job {id} has no saved image {index}.")))
}

/// Reads the saved file whole (to make its thumbnail) if, once opened, it is inside the
/// output root.
fn read_inside(g: &Gallery, image: &SavedImage) -> Result<Vec<u8>, String> {
    let (file, len) = open_served(g, image)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the saved file could not be read ({e})"))?;
    Ok(bytes)
}

/// Opens the saved file if, once opened, it is inside the output root, and checks its size
/// before anything is read: the answer streams it.
fn open_served(g: &Gallery, image: &SavedImage) -> Result<(std::fs::File, u64), String> {
    let (file, meta) = g
        .jobs
        .outputs()
        .open_inside(&image.path)
        .map_err(|e| format!("the saved file cannot be served ({e})"))?;
    if meta.len() > MAX_SERVED_BYTES {
        return Err("the saved file is larger than easel serves".into());
    }
    Ok((file, meta.len()))
}

/// Whether the browser already holds this exact file (saved files never change).
fn still_fresh(etag: &str, headers: &HeaderMap) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
}

/// The headers every served file carries.
fn file_response(bytes: Vec<u8>, mime: HeaderValue, etag: &str, headers: &HeaderMap) -> Response {
    let body = if still_fresh(etag, headers) {
        None
    } else {
        Some(Body::from(bytes))
    };
    with_file_headers(body, mime, etag)
}

/// `body` `None`: 304 Not Modified.
fn with_file_headers(body: Option<Body>, mime: HeaderValue, etag: &str) -> Response {
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"easel\""));
    let mut response = match body {
        None => StatusCode::NOT_MODIFIED.into_response(),
        Some(body) => (StatusCode::OK, body).into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, mime);
    h.insert(header::ETAG, etag_value);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

/// GET /gallery/img/{job_id}/{index}
pub async fn image(
    State(g): State<Arc<Gallery>>,
    Path((id, index)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    g.signed_in(&headers)?;
    let image = stored_image(&g, &id, &index).await?;
    let mime = servable_mime(&image.mime).ok_or_else(|| {
        ApiError::not_found(format!(
            "job {id} image {index}: its stored type is not an image or video type."
        ))
    })?;
    let etag = format!("\"{id}-{}-{}\"", image.index, image.bytes);
    // Answered without opening the file: the browser has exactly these bytes already.
    if still_fresh(&etag, &headers) {
        return Ok(with_file_headers(None, mime, &etag));
    }
    let gallery = g.clone();
    let (file, len) = tokio::task::spawn_blocking(move || open_served(&gallery, &image))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|why| refused(&id, &index, &why))?;
    let (start, end) = match range::requested(headers.get(header::RANGE), len) {
        Part::Whole => (0, len.saturating_sub(1)),
        Part::Span { start, end } => (start, end),
        Part::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE.as_u16(),
                format!(
                    "Range: the file has {len} bytes; ask for bytes before that, or send no Range."
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    let partial = headers.contains_key(header::RANGE) && (start, end) != (0, len.saturating_sub(1));
    let count = if len == 0 { 0 } else { end - start + 1 };
    // Streamed in chunks, never held whole (videos are up to 256 MiB), and never more than
    // the size checked when it was opened.
    let mut file = tokio::fs::File::from_std(file);
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| {
                refused(
                    &id,
                    &index,
                    &format!("the saved file could not be read ({e})"),
                )
            })?;
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(count)));
    let mut response = with_file_headers(Some(body), mime, &etag);
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if partial {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

/// GET /gallery/thumb/{job_id}/{index}
pub async fn thumbnail(
    State(g): State<Arc<Gallery>>,
    Path((id, index)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    g.signed_in(&headers)?;
    // Made before: served without reading the store (the source was checked when it was
    // made). The key is only the id and index, both checked first.
    if valid_job_id(&id)
        && !index.is_empty()
        && index.len() <= 10
        && index.bytes().all(|b| b.is_ascii_digit())
    {
        let key = format!("{id}-{index}");
        let gallery = g.clone();
        let cached_key = key.clone();
        if let Ok(Some(bytes)) =
            tokio::task::spawn_blocking(move || gallery.thumbs.cached(&cached_key)).await
        {
            let etag = format!("\"t-{key}\"");
            return Ok(file_response(
                bytes,
                HeaderValue::from_static("image/jpeg"),
                &etag,
                &headers,
            ));
        }
    }
    let image = stored_image(&g, &id, &index).await?;
    if image.media == MediaClass::Video || servable_mime(&image.mime).is_none() {
        return Err(ApiError::not_found(format!(
            "job {id} image {index}: videos have no thumbnail; use /gallery/img/{id}/{index}."
        )));
    }
    let key = format!("{id}-{}", image.index);
    let etag = format!("\"t-{key}\"");
    let gallery = g.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        gallery
            .thumbs
            .get(&key, || read_inside(&gallery, &image))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|why| refused(&id, &index, &why))?;
    Ok(file_response(
        bytes,
        HeaderValue::from_static("image/jpeg"),
        &etag,
        &headers,
    ))
}

/// A file that exists in the store but is not served: 404, with the reason for the log.
fn refused(id: &str, index: &str, why: &str) -> ApiError {
    tracing::warn!(
        job = id,
        index,
        reason = why,
        "gallery refused to serve a saved file"
    );
    ApiError::not_found(format!(
        "job {id} image {index}: {why}. Files are served only from inside the output root."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_image_and_video_types_are_served() {
        for ok in [
            "image/png",
            "image/jpeg",
            "image/webp",
            "image/gif",
            "video/mp4",
        ] {
            assert!(servable_mime(ok).is_some(), "{ok}");
        }
        for bad in [
            "text/html",
            "image/svg+xml",
            "image/x+xml",
            "video/xml",
            "application/json",
            "image/",
            "image/png\r\nx: y",
            "IMAGE/PNG",
        ] {
            assert!(servable_mime(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn job_ids_are_plain() {
        assert!(valid_job_id("0123456789abcdef0123456789abcdef"));
        for bad in ["", "..", "a/b", "a%2fb", "a\\b", &"a".repeat(65)] {
            assert!(!valid_job_id(bad), "{bad}");
        }
    }
}
