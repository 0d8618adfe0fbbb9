//! The WebSocket side: `/ws?clientId=` connections and who receives which frame
//! (contract 8).
//!
//! Every connection has an unbounded queue; senders push frames under a short lock, so
//! frames reach each socket in the order they were produced, and the first frame of a
//! connection (`status` with `sid`) is queued before the socket becomes visible to any
//! other sender. Image frames are stored once and rendered per socket: type 1 after the
//! progress event, or type 4 before it for clients that asked for preview metadata
//! (contract 8.1, 8.4).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;

use super::json::{Json, obj};
use super::state::{Shared, lock};

/// Binary event type 1: an image after a 4-byte format (contract 8.5).
const PREVIEW_IMAGE: u32 = 1;
/// Binary event type 4: an image after a JSON metadata block.
const PREVIEW_IMAGE_WITH_METADATA: u32 = 4;

/// How an image frame's bytes are encoded.
#[derive(Clone, Copy, Debug)]
pub enum Encoding {
    /// Latent previews.
    Jpeg,
    /// SaveImageWebsocket images.
    Png,
}

/// One thing to send.
#[derive(Clone, Debug)]
pub enum Frame {
    /// A JSON event `{type, data}`, already serialized.
    Text(Arc<str>),
    /// A `progress` event and the image that goes with it.
    Image {
        /// The `progress` event text.
        progress: Arc<str>,
        /// The encoded image.
        image: Bytes,
        /// Its encoding.
        encoding: Encoding,
        /// `{node_id, prompt_id, display_node_id, parent_node_id, real_node_id}` for
        /// type-4 frames.
        metadata: Arc<Json>,
    },
}

impl Frame {
    /// `{"type": kind, "data": data}`.
    pub fn event(kind: &str, data: Json) -> Frame {
        Frame::Text(obj! {"type" => kind, "data" => data}.to_text().into())
    }
}

/// A frame on its way to one socket. `job` is set when the socket gets it as the
/// owner of that job, which is what `drop_socket_after` counts.
#[derive(Debug)]
struct Outgoing {
    frame: Frame,
    job: Option<Arc<str>>,
}

#[derive(Debug)]
struct Socket {
    sid: String,
    serial: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
}

/// The open sockets, by client id, in connection order.
#[derive(Debug, Default)]
pub struct Hub {
    sockets: std::sync::Mutex<(u64, Vec<Socket>)>,
}

impl Hub {
    /// Adds a socket for `sid` (replacing an older one with the same id, which then
    /// gets nothing more) with `first` already queued.
    fn register(&self, sid: &str, first: Vec<Frame>) -> (u64, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        for frame in first {
            let _ = tx.send(Outgoing { frame, job: None });
        }
        let mut guard = lock(&self.sockets);
        let (next, sockets) = &mut *guard;
        *next += 1;
        let serial = *next;
        sockets.retain(|s| s.sid != sid);
        sockets.push(Socket {
            sid: sid.to_owned(),
            serial,
            tx,
        });
        (serial, rx)
    }

    /// Forgets the socket, unless a newer connection took its id.
    fn unregister(&self, sid: &str, serial: u64) {
        lock(&self.sockets)
            .1
            .retain(|s| !(s.sid == sid && s.serial == serial));
    }

    /// Sends to `to`, or to every socket when `None`.
    pub fn send(&self, to: Option<&str>, frame: Frame) {
        self.deliver(to, frame, None);
    }

    /// Sends a frame of job `prompt_id`: to its owner `to` (tagged, so the owner's
    /// socket can count it), or to every socket when the job has no client.
    pub fn send_job(&self, to: Option<&str>, frame: Frame, prompt_id: &Arc<str>) {
        self.deliver(to, frame, to.map(|_| prompt_id.clone()));
    }

    fn deliver(&self, to: Option<&str>, frame: Frame, job: Option<Arc<str>>) {
        let guard = lock(&self.sockets);
        for socket in guard.1.iter().filter(|s| to.is_none_or(|sid| s.sid == sid)) {
            let _ = socket.tx.send(Outgoing {
                frame: frame.clone(),
                job: job.clone(),
            });
        }
    }
}

/// `GET /ws?clientId=`: upgrades, unless `refuse_ws` is set (503).
pub async fn upgrade(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    if shared.config(|c| c.refuse_ws) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let sid = query
        .get("clientId")
        .filter(|id| !id.is_empty())
        .cloned()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    ws.on_upgrade(move |socket| serve(shared, sid, socket))
}

/// Runs one connection until either side closes it.
async fn serve(shared: Arc<Shared>, sid: String, socket: WebSocket) {
    let first = shared.greeting(&sid);
    let (serial, mut rx) = shared.hub.register(&sid, first);
    let mut closing = shared.closing();
    let (mut sink, mut stream) = socket.split();
    let mut metadata = false;
    let mut first_text = true;
    // Frames of the current job sent to this socket as its owner.
    let mut counted: (Option<Arc<str>>, usize) = (None, 0);
    loop {
        tokio::select! {
            outgoing = rx.recv() => {
                let Some(outgoing) = outgoing else { break };
                let limit = shared.config(|c| c.drop_socket_after);
                let mut dropped = false;
                for message in render(&outgoing.frame, metadata) {
                    if sink.send(message).await.is_err() {
                        dropped = true;
                        break;
                    }
                    if let (Some(limit), Some(job)) = (limit, &outgoing.job) {
                        if counted.0.as_ref() != Some(job) {
                            counted = (Some(job.clone()), 0);
                        }
                        counted.1 += 1;
                        if counted.1 >= limit {
                            dropped = true;
                            break;
                        }
                    }
                }
                if dropped {
                    break;
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if std::mem::take(&mut first_text)
                        && let Some(asked) = feature_flags(text.as_str())
                    {
                        metadata = asked;
                        let answer = Frame::event("feature_flags", super::routes::features());
                        for message in render(&answer, metadata) {
                            if sink.send(message).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = closing.changed() => break,
        }
    }
    shared.hub.unregister(&sid, serial);
}

/// If `text` is the feature-flag handshake, whether it asks for preview metadata.
fn feature_flags(text: &str) -> Option<bool> {
    let message = Json::parse(text.as_bytes()).ok()?;
    if message.get("type")?.as_str()? != "feature_flags" {
        return None;
    }
    let asked = message
        .get("data")
        .and_then(|d| d.get("supports_preview_metadata"))
        .is_some_and(|v| *v == Json::Bool(true));
    Some(asked)
}

/// The WebSocket messages for a frame on a socket that did (`metadata`) or did not ask
/// for type-4 image frames.
fn render(frame: &Frame, metadata: bool) -> Vec<Message> {
    match frame {
        Frame::Text(text) => vec![Message::Text(text.as_ref().into())],
        Frame::Image {
            progress,
            image,
            encoding,
            metadata: meta,
        } => {
            let progress = Message::Text(progress.as_ref().into());
            if metadata {
                let mut meta = (**meta).clone();
                let mime = match encoding {
                    Encoding::Jpeg => "image/jpeg",
                    Encoding::Png => "image/png",
                };
                meta.insert("image_type", mime);
                let meta = meta.to_text();
                let mut bytes = Vec::with_capacity(8 + meta.len() + image.len());
                bytes.extend_from_slice(&PREVIEW_IMAGE_WITH_METADATA.to_be_bytes());
                bytes.extend_from_slice(&(meta.len() as u32).to_be_bytes());
                bytes.extend_from_slice(meta.as_bytes());
                bytes.extend_from_slice(image);
                vec![Message::Binary(bytes.into()), progress]
            } else {
                let format: u32 = match encoding {
                    Encoding::Jpeg => 1,
                    Encoding::Png => 2,
                };
                let mut bytes = Vec::with_capacity(8 + image.len());
                bytes.extend_from_slice(&PREVIEW_IMAGE.to_be_bytes());
                bytes.extend_from_slice(&format.to_be_bytes());
                bytes.extend_from_slice(image);
                vec![progress, Message::Binary(bytes.into())]
            }
        }
    }
}
