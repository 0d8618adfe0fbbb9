//! `/gallery/events`: server-sent events, one `job` event with the job's card per change,
//! from the broadcast `Jobs::subscribe` feeds (this process's jobs as they change, other
//! processes' as the store shows them). Bounded: at most `max_streams` at once.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::Gallery;
use super::card::card;
use super::error::ApiError;

/// A comment this often keeps proxies and browsers from closing a quiet stream.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// GET /gallery/events
pub async fn events(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    g.signed_in(&headers)?;
    let permit = g.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            503,
            format!(
                "events: {} gallery event streams are open, the most this easel serves. Close other gallery tabs, or reload later.",
                g.max_streams
            ),
        )
    })?;
    let rx = g.jobs.subscribe();
    let shutdown = g.shutdown.clone();
    let stream = stream(rx, shutdown, permit);
    let mut r = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEPALIVE).text("keepalive"))
        .into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

fn stream(
    mut rx: tokio::sync::broadcast::Receiver<crate::jobs::Job>,
    shutdown: tokio_util::sync::CancellationToken,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream(move |tx| async move {
        let _permit = permit;
        loop {
            let next = tokio::select! {
                r = rx.recv() => r,
                () = shutdown.cancelled() => return,
                // The browser went: free the stream's place now, not at the next change.
                () = tx.closed() => return,
            };
            let event = match next {
                Ok(job) => match serde_json::to_string(&card(&job)) {
                    Ok(data) => Event::default().event("job").data(data),
                    Err(_) => continue,
                },
                // Fell behind: the page reloads its list instead of missing changes.
                Err(RecvError::Lagged(n)) => Event::default()
                    .event("resync")
                    .data(format!("{{\"missed\":{n}}}")),
                Err(RecvError::Closed) => return,
            };
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
    })
}

/// A stream fed by a task through a small channel (the task ends when the client goes).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
}
