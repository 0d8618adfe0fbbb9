//! What the gallery changes: cancel a job, run it again (the same seed, or a variation with
//! a new one) through the one request path (`intake::JobInput::again`), and publish chosen
//! images with the checks, wording and recording of `publish_note`. Every POST passes the
//! CSRF checks first (`session::Sessions::check_post`) and is JSON, bounded.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Gallery;
use super::card::card;
use super::error::ApiError;
use crate::intake::{Face, JobInput, WaitLimits};
use crate::jobs::Cancelled;
use crate::publish::{NoteInput, PublishError, describe_note};

/// Largest request body: a publish names at most 18 images and 1,000 characters of text.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

impl Gallery {
    /// The checks every POST passes, then its body as `T`.
    fn accept<T: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        body: &Result<Bytes, BytesRejection>,
    ) -> Result<T, ApiError> {
        let caller = self.signed_in(headers)?;
        self.sessions.check_post(&caller, headers)?;
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            // 403 like the other checks of a POST (docs/GALLERY.md): a form or text body is
            // what a cross-site form can send without a preflight.
            return Err(ApiError::forbidden(
                "Content-Type: must be application/json. Send the body as JSON.",
            ));
        }
        // A body over the route's limit stops being read at the limit; the refusal is the
        // gallery's JSON like every other, not axum's plain text.
        let body = body.as_ref().map_err(|rejection| {
            ApiError::new(
                rejection.status().as_u16(),
                format!(
                    "body: could not be read ({}); at most {MAX_BODY_BYTES} bytes are accepted. Send less.",
                    rejection.body_text()
                ),
            )
        })?;
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large(format!(
                "body: {} bytes is over the limit of {MAX_BODY_BYTES}. Send less.",
                body.len()
            )));
        }
        let body = if body.is_empty() {
            &b"{}"[..]
        } else {
            &body[..]
        };
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad(format!("body: {e}. Send the fields docs/GALLERY.md lists."))
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Again {
    #[serde(default)]
    variation: bool,
}

/// POST /gallery/api/jobs/{id}/cancel
pub async fn cancel(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Empty {} = g.accept(&headers, &body)?;
    g.find(&id).await?;
    match g.jobs.cancel(&id).await? {
        Cancelled::NotFound => {
            return Err(ApiError::not_found(format!("job {id}: no such job.")));
        }
        Cancelled::Stopping | Cancelled::Marked(_) | Cancelled::AlreadyFinished(_) => {}
    }
    let job = g.find(&id).await?;
    Ok(Json(json!({ "job": card(&job) })).into_response())
}

/// POST /gallery/api/jobs/{id}/again: `{"variation": bool}`; a new job, answered at once.
pub async fn again(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Again { variation } = g.accept(&headers, &body)?;
    let job = g.find(&id).await?;
    // The person clicked the button: like the CLI, the gallery does not ask again.
    let accepted = JobInput::again(&job, variation)
        .submit(&g.jobs, WaitLimits::default(), Face::Mcp)
        .map_err(|e| ApiError::new(422, format!("run again: {e}")))?;
    Ok(Json(json!({ "job": card(&accepted.submitted.job) })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageRef {
    job_id: String,
    index: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Publish {
    #[serde(default)]
    images: Vec<ImageRef>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    confirm: bool,
}

impl Publish {
    /// The note as `publish_note` takes it: each image as its easel:// resource.
    fn note(self) -> Result<NoteInput, ApiError> {
        let mut images = Vec::with_capacity(self.images.len());
        for i in self.images {
            if !super::files::valid_job_id(&i.job_id) {
                return Err(ApiError::bad(
                    "images: a job_id is not a job id (letters, digits and '-'). Choose images from the gallery.",
                ));
            }
            // The resource form `sources` reads (as publish_note's callers write it).
            images.push(format!("easel://jobs/{}/images/{}", i.job_id, i.index));
        }
        Ok(NoteInput {
            publisher: self.publisher,
            title: self.title,
            content: self.content,
            images,
            tags: self.tags,
            schedule_at: None,
            visibility: None,
        })
    }
}

/// POST /gallery/api/publish/preview: what publishing would do, or every problem.
pub async fn publish_preview(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let asked: Publish = g.accept(&headers, &body)?;
    let note = asked.note()?;
    let answer = match g.publishers.check(&g.jobs, &g.input_dirs, note).await {
        Ok(checked) => json!({ "summary": describe_note(&checked), "ok": true, "problems": [] }),
        Err(PublishError::Refused(problems)) => json!({
            "summary": PublishError::Refused(problems.clone()).to_string(),
            "ok": false,
            "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    Ok(Json(answer).into_response())
}

/// POST /gallery/api/publish: with `"confirm": true`, checked, recorded, sent; the outcome.
pub async fn publish(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let asked: Publish = g.accept(&headers, &body)?;
    if !asked.confirm {
        return Err(ApiError::bad(
            "confirm: is not true. Show the preview (POST /gallery/api/publish/preview) to the person, and send \"confirm\": true once they approve. Nothing was published.",
        ));
    }
    let note = asked.note()?;
    let started = g
        .publishers
        .publish(&g.jobs, &g.input_dirs, note)
        .await
        .map_err(|e| match e {
            PublishError::Refused(_) => ApiError::new(422, e.to_string()),
            PublishError::Store(_) => ApiError::internal(e.to_string()),
        })?;
    // Sent on its own task: a browser that goes away does not cut the publish in half.
    let report = started.finish().await;
    Ok(Json(json!({ "note": report })).into_response())
}
