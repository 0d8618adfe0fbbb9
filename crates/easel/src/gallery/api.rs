//! The read side of the API: the session's CSRF token, pages of job cards, one job in
//! full, and the filter menus.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use super::Gallery;
use super::card::{JobCard, card, detail};
use super::error::ApiError;
use super::files::valid_job_id;
use super::query::{encode_cursor, listing};

/// Runs store work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request was interrupted: {e}")))?
}

/// GET /gallery/api/session: open to everyone (it says whether one is signed in), the CSRF
/// token only to a signed-in caller.
pub async fn session(State(g): State<Arc<Gallery>>, headers: HeaderMap) -> Response {
    let caller = g.sessions.caller(&headers);
    let body = json!({
        "csrf": caller.as_ref().map(|c| g.sessions.csrf(c)).unwrap_or_default(),
        "signed_in": caller.is_ok(),
        "token_required": g.sessions.token_required(),
    });
    let mut r = Json(body).into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// GET /gallery/api/jobs?…
pub async fn jobs(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    g.signed_in(&headers)?;
    let asked = listing(query.as_deref())?;
    let jobs = g.jobs.clone();
    let (cards, next) = blocking(move || {
        let mut found = jobs.list(&asked.filter)?;
        let next = (found.len() > asked.limit).then(|| {
            found.truncate(asked.limit);
            found.last().map(|j| encode_cursor(j.created_at_ms, &j.id))
        });
        let cards: Vec<JobCard> = found.iter().map(card).collect();
        Ok((cards, next.flatten()))
    })
    .await?;
    Ok(no_store(Json(json!({ "jobs": cards, "next": next }))))
}

/// GET /gallery/api/jobs/{id}
pub async fn job(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    g.signed_in(&headers)?;
    let job = g.find(&id).await?;
    let command = (g.command)(&job);
    Ok(no_store(Json(detail(&job, command))))
}

/// GET /gallery/api/facets
pub async fn facets(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    g.signed_in(&headers)?;
    let jobs = g.jobs.clone();
    let f = blocking(move || Ok(jobs.facets()?)).await?;
    Ok(no_store(Json(json!({
        "backends": f.backends,
        "models": f.models,
        "batches": f.batches.iter().map(|(key, jobs)| json!({"key": key, "jobs": jobs})).collect::<Vec<_>>(),
        "statuses": f.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    }))))
}

fn no_store(body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

impl Gallery {
    /// The job `id`, or a 404 naming it.
    pub async fn find(&self, id: &str) -> Result<crate::jobs::Job, ApiError> {
        if !valid_job_id(id) {
            return Err(ApiError::not_found(
                "job_id: is not a job id (letters, digits and '-'). Use an id the gallery lists.",
            ));
        }
        let jobs = self.jobs.clone();
        let owned = id.to_string();
        blocking(move || Ok(jobs.get(&owned)?))
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "job {id}: no such job in this easel's store. It may have been pruned; reload the gallery."
                ))
            })
    }
}
