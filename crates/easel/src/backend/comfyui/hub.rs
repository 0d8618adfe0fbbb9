//! One WebSocket per ComfyUI server, shared by every job on it. Events are handed to the
//! job whose `prompt_id` they carry; queue `status` goes to all. The socket is opened when
//! the first job subscribes, reconnected with backoff when it drops, and closed when no job
//! is left. Jobs watch whether it is up and poll `/history` while it is not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::header::HeaderMap;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Largest WebSocket message read from ComfyUI: progress events are small and a preview
/// frame is a JPEG of a few hundred KB; a 16 MiB message is not ComfyUI talking.
const MAX_WS_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::events::{self, Event};

struct State {
    subscribers: HashMap<String, mpsc::UnboundedSender<Event>>,
    running: bool,
}

pub struct Hub {
    client_id: String,
    ws_url: String,
    headers: HeaderMap,
    state: Mutex<State>,
    connected: watch::Sender<bool>,
    /// The server's `queue_remaining` from the last `status` message, and when it came:
    /// the freshest view of its queue, pushed on every change while the socket is up.
    last_queue: Mutex<Option<(u64, Instant)>>,
}

/// A job's view of the hub: its events, and whether the socket is up. Unsubscribes on drop.
pub struct Subscription {
    pub events: mpsc::UnboundedReceiver<Event>,
    pub connected: watch::Receiver<bool>,
    hub: Arc<Hub>,
    prompt_id: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut s) = self.hub.state.lock() {
            s.subscribers.remove(&self.prompt_id);
        }
    }
}

impl Hub {
    /// `base` is the server's http(s) URL; `client_id` is this process's id at ComfyUI.
    pub fn new(base: &str, headers: HeaderMap, client_id: &str) -> Arc<Hub> {
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", base.trim_start_matches("http://"))
        };
        let (connected, _) = watch::channel(false);
        Arc::new(Hub {
            client_id: client_id.to_string(),
            ws_url: format!("{ws_base}/ws?clientId={client_id}"),
            headers,
            state: Mutex::new(State {
                subscribers: HashMap::new(),
                running: false,
            }),
            connected,
            last_queue: Mutex::new(None),
        })
    }

    /// `queue_remaining` as the socket last reported it.
    pub fn last_queue(&self) -> Option<(u64, Instant)> {
        self.last_queue.lock().ok().and_then(|q| *q)
    }

    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn subscribe(self: &Arc<Self>, prompt_id: &str) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let start = match self.state.lock() {
            Ok(mut s) => {
                s.subscribers.insert(prompt_id.to_string(), tx);
                !std::mem::replace(&mut s.running, true)
            }
            Err(_) => false,
        };
        if start {
            tokio::spawn(self.clone().run());
        }
        Subscription {
            events: rx,
            connected: self.connected.subscribe(),
            hub: self.clone(),
            prompt_id: prompt_id.to_string(),
        }
    }

    /// Stops the loop when nobody listens; returns whether to keep going.
    fn keep_running(&self) -> bool {
        match self.state.lock() {
            Ok(mut s) => {
                if s.subscribers.is_empty() {
                    s.running = false;
                }
                s.running
            }
            Err(_) => false,
        }
    }

    async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(200);
        while self.keep_running() {
            match self.session().await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(reason) => {
                    tracing::debug!(url = %self.ws_url, %reason, "ComfyUI WebSocket unavailable; jobs poll /history");
                }
            }
            self.connected.send_replace(false);
            if !self.keep_running() {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection, until it drops or no job is left.
    async fn session(&self) -> Result<(), String> {
        let mut request = self
            .ws_url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        // The same trust store as every HTTP request (the platform's, so a wss:// server
        // behind a private CA the system trusts works for progress as it does for /prompt),
        // and a bound on what one message may make easel hold.
        let tls = crate::backend::http::tls_config()?;
        let limits = WebSocketConfig::default()
            .max_message_size(Some(MAX_WS_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_WS_MESSAGE_BYTES));
        let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(limits),
            false,
            Some(Connector::Rustls(Arc::new(tls))),
        )
        .await
        .map_err(|e| e.to_string())?;
        self.connected.send_replace(true);
        tracing::debug!(url = %self.ws_url, "ComfyUI WebSocket connected");
        let mut idle = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(event) = events::parse(&text) {
                            self.dispatch(event);
                        }
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        tracing::trace!(frame = ?events::parse_binary(&bytes), "ComfyUI binary frame");
                    }
                    Some(Ok(Message::Close(_))) | None => return Err("closed by ComfyUI".into()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                },
                _ = idle.tick() => {
                    if !self.keep_running() {
                        let _ = socket.close(None).await;
                        return Ok(());
                    }
                }
            }
        }
    }

    fn dispatch(&self, event: Event) {
        if let Event::Status { queue_remaining } = event
            && let Ok(mut q) = self.last_queue.lock()
        {
            *q = Some((queue_remaining, Instant::now()));
        }
        let Ok(state) = self.state.lock() else {
            return;
        };
        match event.prompt_id() {
            Some(id) => {
                if let Some(tx) = state.subscribers.get(id) {
                    let _ = tx.send(event);
                }
            }
            None => {
                for tx in state.subscribers.values() {
                    let _ = tx.send(event.clone());
                }
            }
        }
    }
}
