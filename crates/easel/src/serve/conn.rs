//! The HTTP accept loop, in place of `axum::serve`, which has no header-read or idle
//! timeout and no connection cap: idle sockets that never send a header would be held
//! forever, until the process runs out of descriptors.
//!
//! - **Cap** (`http.max_connections`, fitted to the file limit by [`fdlimit`]): a
//!   connection beyond it is accepted, answered `503` with `Retry-After` and closed at
//!   once. Accepting keeps the listen backlog from filling with stale connections that
//!   would take the next free slot ahead of live clients, and a client learns why
//!   instead of hanging; the descriptor is held only for that one write.
//! - **Header timeout** (`http.header_timeout_secs`, 10 s): a request's headers must be
//!   complete this long after the connection opened, or after the first byte of a
//!   following request on a kept-alive connection.
//! - **Idle timeout** (`http.idle_timeout_secs`, 120 s): a kept-alive connection with no
//!   request in progress is closed after this long.
//!
//! A connection with a request in progress (a long SSE stream included) is never timed out
//! here. Connections speak HTTP/1.1, as the axum app was configured to.
//!
//! [`fdlimit`]: super::fdlimit

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::HttpSettings;

/// How connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct Connections {
    /// Open connections at most (already fitted to the file limit).
    pub cap: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Connections {
    /// The settings' timeouts with the effective `cap`.
    pub fn new(settings: &HttpSettings, cap: usize) -> Self {
        Connections {
            cap: cap.max(1),
            header_timeout: settings.header_timeout,
            idle_timeout: settings.idle_timeout,
        }
    }
}

/// Accepts and serves connections until `shutdown`, then lets them finish (in-progress
/// requests complete, idle connections close) and returns when all have.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Connections,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.cap));
    // Every connection task holds a receiver; `closed()` resolves when the last one ends.
    let (all_done, done) = watch::channel(());
    let mut refusals = Refusals::default();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: retrying at once would spin. Slots and
                // jobs release descriptors; try again shortly.
                tracing::warn!(error = %e, "cannot accept connections for now");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse_full(stream, limits.cap);
            refusals.count(limits.cap);
            continue;
        };
        let (app, shutdown, done) = (app.clone(), shutdown.clone(), done.clone());
        tokio::spawn(async move {
            connection(stream, app, limits, shutdown, slot).await;
            drop(done);
        });
    }
    drop(listener);
    drop(done);
    all_done.closed().await;
}

/// Errors that concern one connection attempt only; the listener is fine.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Logs refusals at most every [`Refusals::EVERY`], so that a flood does not also flood
/// the log.
#[derive(Default)]
struct Refusals {
    since_logged: u64,
    logged_at: Option<Instant>,
}

impl Refusals {
    const EVERY: Duration = Duration::from_secs(10);

    fn count(&mut self, cap: usize) {
        self.since_logged += 1;
        if self.logged_at.is_none_or(|at| at.elapsed() >= Self::EVERY) {
            tracing::warn!(
                max_connections = cap,
                refused = self.since_logged,
                "refusing connections: easel has its maximum open; raise http.max_connections (and the file limit) if clients are legitimate"
            );
            self.since_logged = 0;
            self.logged_at = Some(Instant::now());
        }
    }
}

/// Answers a connection over the cap with a 503 and closes it, without waiting for
/// anything: a write into a fresh socket's empty send buffer does not block.
fn refuse_full(stream: TcpStream, cap: usize) {
    let body = format!(
        "Service Unavailable: easel has its maximum of {cap} connections open. Retry shortly, close idle clients, or raise http.max_connections (EASEL_HTTP_MAX_CONNECTIONS) and the file limit (ulimit -n).\n"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

/// Serves one connection until the client closes it, a timeout ends it, or shutdown has
/// let its last request finish.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Connections,
    shutdown: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let (phase, mut watch) = watch::channel(Phase::Header {
        since: Instant::now(),
    });
    let phase = Arc::new(phase);
    let io = TokioIo::new(Watched {
        inner: stream,
        phase: phase.clone(),
    });
    let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
        let app = app.clone();
        let busy = Busy::begin(phase.clone());
        async move {
            let response = app
                .oneshot(request.map(Body::new))
                .await
                .unwrap_or_else(|e: Infallible| match e {});
            Ok::<_, Infallible>(hold(response, busy))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            reason = expiry(&mut watch, limits) => {
                tracing::debug!(reason, "closing connection");
                return;
            }
        }
    }
}

/// Where a connection is in its request cycle; decides which timeout applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request's headers to complete, since `since`.
    Header { since: Instant },
    /// Requests whose responses are not finished; no timeout.
    Busy { requests: usize },
    /// Kept alive with nothing in progress, since `since`.
    Idle { since: Instant },
}

/// Resolves when the current phase's time runs out, naming which timeout it was.
async fn expiry(watch: &mut watch::Receiver<Phase>, limits: Connections) -> &'static str {
    loop {
        let (deadline, reason) = match *watch.borrow_and_update() {
            Phase::Header { since } => (Some(since + limits.header_timeout), "header timeout"),
            Phase::Idle { since } => (Some(since + limits.idle_timeout), "idle timeout"),
            Phase::Busy { .. } => (None, ""),
        };
        let changed = watch.changed();
        match deadline {
            Some(deadline) => tokio::select! {
                changed = changed => if changed.is_err() { std::future::pending::<()>().await },
                () = tokio::time::sleep_until(deadline) => return reason,
            },
            None => {
                if changed.await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// One request in progress on a connection, until its response body is finished or
/// dropped.
struct Busy(Arc<watch::Sender<Phase>>);

impl Busy {
    fn begin(phase: Arc<watch::Sender<Phase>>) -> Busy {
        phase.send_modify(|p| {
            *p = match *p {
                Phase::Busy { requests } => Phase::Busy {
                    requests: requests + 1,
                },
                _ => Phase::Busy { requests: 1 },
            }
        });
        Busy(phase)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.send_modify(|p| {
            *p = match *p {
                Phase::Busy { requests } if requests > 1 => Phase::Busy {
                    requests: requests - 1,
                },
                _ => Phase::Idle {
                    since: Instant::now(),
                },
            }
        });
    }
}

/// Keeps `busy` alive exactly as long as the response body.
fn hold(response: Response, busy: Busy) -> Response {
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _busy = &busy;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// The socket, noting when an idle connection starts receiving its next request (its
/// header clock starts then).
struct Watched {
    inner: TcpStream,
    phase: Arc<watch::Sender<Phase>>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.phase.send_if_modified(|p| match *p {
                Phase::Idle { .. } => {
                    *p = Phase::Header {
                        since: Instant::now(),
                    };
                    true
                }
                _ => false,
            });
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_pick_the_timeout() {
        let limits = Connections {
            cap: 1,
            header_timeout: Duration::from_millis(20),
            idle_timeout: Duration::from_millis(30),
        };
        let (tx, mut rx) = watch::channel(Phase::Header {
            since: Instant::now(),
        });
        let tx = Arc::new(tx);
        assert_eq!(expiry(&mut rx, limits).await, "header timeout");

        // Requests in progress are never timed out here, however long they take.
        let busy = Busy::begin(tx.clone());
        let second = Busy::begin(tx.clone());
        let waited = tokio::time::timeout(Duration::from_millis(200), expiry(&mut rx, limits));
        assert!(waited.await.is_err(), "a busy connection expired");
        drop(busy);
        assert_eq!(*tx.borrow(), Phase::Busy { requests: 1 });
        drop(second);
        assert!(matches!(*tx.borrow(), Phase::Idle { .. }));
        assert_eq!(expiry(&mut rx, limits).await, "idle timeout");
    }
}
