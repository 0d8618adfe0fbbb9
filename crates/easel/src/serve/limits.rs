//! Bounds on what HTTP clients can make easel hold: request body size, concurrent sessions
//! and requests in flight per session.
//!
//! - **Sessions** (`http.max_sessions`, default 64): one pool of slots shared by Streamable
//!   HTTP sessions, legacy SSE sessions, and sessionless (stateless) `/mcp` requests while
//!   they run. A full pool answers 503 with `Retry-After`.
//! - **Requests per session** (`http.max_requests_per_session`, default 16): POSTs in flight
//!   within one Streamable HTTP session, or JSON-RPC requests awaiting their answer within one
//!   SSE session. More answer 429 with `Retry-After`. Notifications and responses to the
//!   server never count.
//! - **Body size** (`http.max_body_bytes`, default 4 MiB): 413 on every POST route.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures::{Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{refuse, refuse_for_now};

const SESSION_HEADER: &str = "mcp-session-id";

pub struct Limits {
    slots: Arc<Semaphore>,
    pub max_sessions: usize,
    pub per_session: usize,
    pub max_body: usize,
    /// Whether `/mcp` opens sessions (false with `--stateless`).
    session_mode: bool,
    /// Streamable HTTP POSTs in flight, by session id.
    in_flight: Mutex<HashMap<String, usize>>,
}

impl Limits {
    pub fn new(
        max_sessions: usize,
        per_session: usize,
        max_body: usize,
        session_mode: bool,
    ) -> Self {
        Limits {
            slots: Arc::new(Semaphore::new(max_sessions)),
            max_sessions,
            per_session,
            max_body,
            session_mode,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    pub fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    /// A session slot, if one is free (else answer [`Limits::full`]).
    pub fn take_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    pub fn full(&self) -> Response {
        tracing::warn!(
            max = self.max_sessions,
            "refused a session: all slots are in use"
        );
        refuse_for_now(
            StatusCode::SERVICE_UNAVAILABLE,
            5,
            format!(
                "Service Unavailable: easel is serving its maximum of {} concurrent sessions. Close an idle client or raise http.max_sessions (EASEL_HTTP_MAX_SESSIONS).",
                self.max_sessions
            ),
        )
    }

    pub fn too_many_requests(&self) -> Response {
        refuse_for_now(
            StatusCode::TOO_MANY_REQUESTS,
            1,
            format!(
                "Too Many Requests: this session already has {} requests in flight. Wait for one to finish, or raise http.max_requests_per_session (EASEL_HTTP_MAX_REQUESTS_PER_SESSION).",
                self.per_session
            ),
        )
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        // A poisoned map only means a panic elsewhere mid-update; the counts stay usable.
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one more POST in the session, if it has room.
    fn enter(self: &Arc<Self>, session: &str) -> Option<InFlight> {
        let mut counts = self.counts();
        let n = counts.entry(session.to_string()).or_insert(0);
        if *n >= self.per_session {
            return None;
        }
        *n += 1;
        Some(InFlight {
            limits: self.clone(),
            session: session.to_string(),
        })
    }
}

/// One POST in flight in a session; counted until its response body is finished or dropped.
struct InFlight {
    limits: Arc<Limits>,
    session: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = self.limits.counts();
        if let Some(n) = counts.get_mut(&self.session) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.session);
            }
        }
    }
}

/// Reads a whole body, refusing it with 413 as soon as it grows past `limit`.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("Bad Request: could not read the request body: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Payload Too Large: request bodies are limited to {limit} bytes (http.max_body_bytes, EASEL_HTTP_MAX_BODY_BYTES)."
                ),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Keeps `held` alive exactly as long as the response body: a streamed answer keeps its slot
/// until the client has it or goes away.
fn hold<T: Send + Sync + 'static>(response: Response, held: T) -> Response {
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held = &held;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

fn is_initialize(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        method: Option<String>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.method.as_deref() == Some("initialize"))
}

/// The limits in front of rmcp's `/mcp` service.
pub async fn mcp(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    if let Some(session) = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    {
        let Some(in_flight) = limits.enter(&session) else {
            tracing::warn!(
                max = limits.per_session,
                "refused a request: its session has too many in flight"
            );
            return limits.too_many_requests();
        };
        return hold(next.run(request).await, in_flight);
    }
    // Without a session id the request either opens a session (initialize) or is served on
    // its own (stateless); the body says which. rmcp would buffer it anyway.
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, limits.max_body).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    let opens_session = limits.session_mode && is_initialize(&bytes);
    let request = Request::from_parts(parts, Body::from(bytes));
    if opens_session {
        // The session's slot is taken by `CappedSessions` when rmcp creates it; checking
        // here gives the clear 503. (Two initializes racing for the last slot: the loser
        // gets rmcp's 500 naming the same cause.)
        if limits.slots.available_permits() == 0 {
            return limits.full();
        }
        return next.run(request).await;
    }
    match limits.take_slot() {
        Some(slot) => hold(next.run(request).await, slot),
        None => limits.full(),
    }
}

/// rmcp's session manager with every session holding a slot of the shared pool, so that
/// sessions count against `http.max_sessions` until rmcp closes them (DELETE, idle timeout,
/// or shutdown).
pub struct CappedSessions<M> {
    inner: M,
    slots: Arc<Semaphore>,
    max: usize,
    held: Mutex<HashMap<SessionId, OwnedSemaphorePermit>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CappedError<E: std::error::Error + 'static> {
    #[error(
        "easel is serving its maximum of {0} concurrent sessions; close an idle client or raise http.max_sessions"
    )]
    Full(usize),
    #[error(transparent)]
    Inner(E),
}

impl<M> CappedSessions<M> {
    pub fn new(inner: M, slots: Arc<Semaphore>, max: usize) -> Self {
        CappedSessions {
            inner,
            slots,
            max,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<SessionId, OwnedSemaphorePermit>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sessions open now.
    pub fn count(&self) -> usize {
        self.held().len()
    }
}

impl<M: SessionManager> SessionManager for CappedSessions<M> {
    type Error = CappedError<M::Error>;
    type Transport = M::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| CappedError::Full(self.max))?;
        let (id, transport) = self
            .inner
            .create_session()
            .await
            .map_err(CappedError::Inner)?;
        self.held().insert(id.clone(), slot);
        tracing::debug!(session = %id, "Streamable HTTP session opened");
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner
            .initialize_session(id, message)
            .await
            .map_err(CappedError::Inner)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await.map_err(CappedError::Inner)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        if self.held().remove(id).is_some() {
            tracing::debug!(session = %id, "Streamable HTTP session closed");
        }
        self.inner
            .close_session(id)
            .await
            .map_err(CappedError::Inner)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner
            .create_stream(id, message)
            .await
            .map_err(CappedError::Inner)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner
            .accept_message(id, message)
            .await
            .map_err(CappedError::Inner)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner
            .create_standalone_stream(id)
            .await
            .map_err(CappedError::Inner)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner
            .resume(id, last_event_id)
            .await
            .map_err(CappedError::Inner)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        // No session store is configured, so nothing is ever restored; delegate anyway so a
        // future store keeps working.
        self.inner
            .restore_session(id)
            .await
            .map_err(CappedError::Inner)
    }

    fn event_store(
        &self,
    ) -> Option<Arc<dyn rmcp::transport::streamable_http_server::session::EventStore>> {
        self.inner.event_store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialize_is_recognized() {
        assert!(is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#
        ));
        assert!(!is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!is_initialize(b"not json"));
    }

    #[test]
    fn per_session_counts_release_on_drop() {
        let limits = Arc::new(Limits::new(4, 2, 10, true));
        let a = limits.enter("s").expect("first");
        let b = limits.enter("s").expect("second");
        assert!(limits.enter("s").is_none());
        assert!(limits.enter("t").is_some());
        drop(a);
        let c = limits.enter("s").expect("room again");
        drop((b, c));
        assert!(limits.counts().is_empty());
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413() {
        let ok = read_body(Body::from("0123456789"), 10).await.expect("fits");
        assert_eq!(ok.len(), 10);
        let refused = read_body(Body::from("0123456789x"), 10)
            .await
            .expect_err("too big");
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
