//! The legacy HTTP+SSE transport (MCP 2024-11-05), which rmcp removed: `GET /sse` opens an
//! event stream whose first event names where to POST (`/messages?sessionId=…`); each POST
//! carries one JSON-RPC message and is answered 202, the reply arriving on the stream.
//!
//! Each stream gets its own rmcp service over a pair of channels. The session ends from
//! either side: when the service stops (shutdown, client sent EOF) its map entry goes, and
//! when the client disconnects axum drops the stream, whose [`Registration`] removes the
//! entry; that drops the service's input sender, so the service sees its input end and
//! quits. Without that guard a vanished client would leave its service running forever.
//! Jobs started by the session run on their own and stay fetchable from any other session.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt, stream};
use rmcp::ServiceExt;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, JsonRpcMessage, RequestId, ServerJsonRpcMessage,
};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::jsonrpc::{Checked, Rejection, check};
use super::limits::{Limits, read_body};
use super::refuse;
use crate::service::EaselServer;

/// Messages buffered per direction before the sender waits.
const CHANNEL: usize = 64;

struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    /// The stream to the client, for errors answered here rather than by rmcp.
    to_client: mpsc::Sender<ServerJsonRpcMessage>,
    /// Requests sent by the client and not answered yet (the per-session limit).
    pending: HashSet<RequestId>,
    /// This session's place in `http.max_sessions`, given back when the entry goes.
    _slot: OwnedSemaphorePermit,
}

/// The adapter's shared state: one entry per open SSE stream.
pub struct SseState {
    server: EaselServer,
    limits: Arc<Limits>,
    shutdown: CancellationToken,
    sessions: Mutex<HashMap<String, Session>>,
}

impl SseState {
    pub fn new(server: EaselServer, limits: Arc<Limits>, shutdown: CancellationToken) -> Self {
        SseState {
            server,
            limits,
            shutdown,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open SSE sessions.
    pub fn count(&self) -> usize {
        self.sessions().len()
    }

    fn remove(&self, id: &str) {
        if self.sessions().remove(id).is_some() {
            tracing::info!(session = id, "SSE session closed");
        }
    }

    /// Answers leaving for the client settle their request.
    fn answered(&self, id: &str, message: &ServerJsonRpcMessage) {
        let request = match message {
            JsonRpcMessage::Response(r) => Some(&r.id),
            JsonRpcMessage::Error(e) => e.id.as_ref(),
            _ => None,
        };
        if let Some(request) = request
            && let Some(session) = self.sessions().get_mut(id)
        {
            session.pending.remove(request);
        }
    }
}

/// `GET /sse` and `POST /messages`.
pub fn routes(state: Arc<SseState>) -> Router {
    Router::new()
        .route("/sse", get(open))
        .route("/messages", post(message))
        .with_state(state)
}

/// Removes the session when the response stream is dropped (client gone or shutdown).
struct Registration {
    state: Arc<SseState>,
    id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.remove(&self.id);
    }
}

async fn open(State(state): State<Arc<SseState>>) -> Response {
    let Some(slot) = state.limits.take_slot() else {
        return state.limits.full();
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL);
    state.sessions().insert(
        id.clone(),
        Session {
            to_server,
            to_client: to_client.clone(),
            pending: HashSet::new(),
            _slot: slot,
        },
    );
    tracing::info!(session = %id, "SSE session opened");

    {
        let (state, id) = (state.clone(), id.clone());
        let server = state.server.clone();
        let ct = state.shutdown.child_token();
        tokio::spawn(async move {
            match server.serve_with_ct((to_client, from_client), ct).await {
                Ok(running) => {
                    let reason = running.waiting().await;
                    tracing::debug!(session = %id, ?reason, "SSE session service ended");
                }
                Err(e) => {
                    tracing::warn!(session = %id, error = %e, "SSE session ended before initialize")
                }
            }
            state.remove(&id);
        });
    }

    let registration = Registration {
        state: state.clone(),
        id: id.clone(),
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={id}"));
    let messages = from_server.filter_map(move |message| {
        let registration = &registration;
        registration.state.answered(&registration.id, &message);
        let event = match serde_json::to_string(&message) {
            Ok(json) => Some(Ok::<_, Infallible>(
                Event::default().event("message").data(json),
            )),
            Err(e) => {
                tracing::error!(session = %registration.id, error = %e, "could not serialize a message for the SSE stream");
                None
            }
        };
        futures::future::ready(event)
    });
    let events = stream::once(async move { Ok(endpoint) })
        .chain(messages)
        // Axum's graceful shutdown waits for open responses; end the stream with the server.
        .take_until(state.shutdown.clone().cancelled_owned());
    // Keep-alives keep proxies from closing a stream that is quiet during a long job.
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(serde::Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

async fn message(
    State(state): State<Arc<SseState>>,
    Query(query): Query<SessionQuery>,
    body: Body,
) -> Response {
    let Some(id) = query.session_id else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Bad Request: missing sessionId; POST to the endpoint the /sse stream announced.",
        );
    };
    let bytes = match read_body(body, state.limits.max_body).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    let message = match check(&bytes) {
        Checked::Message(message) => *message,
        Checked::Rejected(rejection) => return reject(&state, &id, rejection).await,
    };
    let mut sender = {
        let mut sessions = state.sessions();
        let Some(session) = sessions.get_mut(&id) else {
            return unknown_session();
        };
        match &message {
            JsonRpcMessage::Request(r) => {
                if session.pending.len() >= state.limits.per_session {
                    tracing::warn!(session = %id, max = state.limits.per_session, "refused a request: its session has too many in flight");
                    return state.limits.too_many_requests();
                }
                session.pending.insert(r.id.clone());
            }
            // A cancelled request gets no answer, so it stops counting now.
            JsonRpcMessage::Notification(n) => {
                if let ClientNotification::CancelledNotification(c) = &n.notification
                    && let Some(request) = &c.params.request_id
                {
                    session.pending.remove(request);
                }
            }
            _ => {}
        }
        session.to_server.clone()
    };
    if sender.send(message).await.is_err() {
        // The service has ended; its entry is on its way out.
        state.remove(&id);
        return unknown_session();
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}

/// A malformed message: a request whose id could be read gets its error on the stream,
/// where the client waits for it (the POST is accepted); anything else is a 400 with the
/// error as its body.
async fn reject(state: &SseState, id: &str, rejection: Rejection) -> Response {
    let (Some(request), true) = (rejection.id.clone(), rejection.answerable) else {
        return rejection.http_response();
    };
    let Some(mut to_client) = state.sessions().get(id).map(|s| s.to_client.clone()) else {
        return unknown_session();
    };
    let error = ServerJsonRpcMessage::error(rejection.error, Some(request));
    if to_client.send(error).await.is_err() {
        return unknown_session();
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}

fn unknown_session() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "Not Found: no such SSE session (it ended or never existed); open a new one with GET /sse.",
    )
}
