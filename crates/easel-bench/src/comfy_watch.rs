//! When did the ComfyUI simulator finish a job? A second WebSocket client (not easel's)
//! listens for the `status` broadcast that ComfyUI sends to every socket when its queue
//! empties: the simulator writes the history entry and broadcasts this status before the
//! job's owner hears `executing null` (contract 8.4), so it marks "done" as the server sees it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Instants at which the queue was seen empty, in order.
pub struct Watcher {
    emptied: Arc<Mutex<Vec<Instant>>>,
    task: JoinHandle<()>,
}

impl Watcher {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Watcher> {
        let url = format!("ws://{addr}/ws?clientId=easel-bench-observer");
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .context("connecting the observer WebSocket to the ComfyUI simulator")?;
        let emptied = Arc::new(Mutex::new(Vec::new()));
        let seen = emptied.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                let at = Instant::now();
                if let Message::Text(text) = frame
                    && queue_emptied(text.as_str())
                    && let Ok(mut v) = seen.lock()
                {
                    v.push(at);
                }
            }
        });
        Ok(Watcher { emptied, task })
    }

    /// The first moment after `since` at which the queue was seen empty, waiting up to
    /// 100 ms for the frame to be read (it travels beside easel's own).
    pub async fn done_after(&self, since: Instant) -> Option<Instant> {
        for _ in 0..100 {
            let found = self
                .emptied
                .lock()
                .ok()
                .and_then(|v| v.iter().copied().find(|t| *t > since));
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `{"type":"status","data":{"status":{"exec_info":{"queue_remaining":0}}}}`
fn queue_emptied(text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    v["type"] == "status" && v["data"]["status"]["exec_info"]["queue_remaining"] == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_the_empty_queue_status() {
        assert!(queue_emptied(
            r#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":0}},"sid":"x"}}"#
        ));
        assert!(!queue_emptied(
            r#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":1}}}}"#
        ));
        assert!(!queue_emptied(r#"{"type":"executing","data":{"node":null}}"#));
        assert!(!queue_emptied("not json"));
    }
}
