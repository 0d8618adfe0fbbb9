//! When did the ComfyUI simulator finish a job? A second WebSocket client (not easel's)
//! listens for the `status` broadcast that ComfyUI sends to every socket when its queue
//! empties: the simulator writes the history entry and broadcasts this status before the
//! job's owner hears `executing null` (contract 8.4), so it marks "done" as the server sees it.
//! The first non-empty-queue status after a call starts marks when the simulator accepted
//! the job, so "simulator time" and "easel's share" of a call can be told apart.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// `status` broadcasts seen: when, and the queue length they reported.
pub struct Watcher {
    statuses: Arc<Mutex<Vec<(Instant, u64)>>>,
    task: JoinHandle<()>,
}

impl Watcher {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Watcher> {
        let url = format!("ws://{addr}/ws?clientId=easel-bench-observer");
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .context("connecting the observer WebSocket to the ComfyUI simulator")?;
        let statuses = Arc::new(Mutex::new(Vec::new()));
        let seen = statuses.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                let at = Instant::now();
                if let Message::Text(text) = frame
                    && let Some(queue) = queue_remaining(text.as_str())
                    && let Ok(mut v) = seen.lock()
                {
                    v.push((at, queue));
                }
            }
        });
        Ok(Watcher { statuses, task })
    }

    /// The first moment after `since` at which the queue was seen empty, waiting up to
    /// 100 ms for the frame to be read (it travels beside easel's own).
    pub async fn done_after(&self, since: Instant) -> Option<Instant> {
        self.first_after(since, |queue| queue == 0).await
    }

    /// The first moment after `since` at which the simulator reported a non-empty queue:
    /// the job was accepted (`POST /prompt` answered) and, the worker being idle, started.
    pub async fn queued_after(&self, since: Instant) -> Option<Instant> {
        self.first_after(since, |queue| queue > 0).await
    }

    async fn first_after(&self, since: Instant, wanted: impl Fn(u64) -> bool) -> Option<Instant> {
        for _ in 0..100 {
            let found = self.statuses.lock().ok().and_then(|v| {
                v.iter()
                    .find(|(t, queue)| *t > since && wanted(*queue))
                    .map(|(t, _)| *t)
            });
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

/// The queue length of `{"type":"status","data":{"status":{"exec_info":{"queue_remaining":N}}}}`.
fn queue_remaining(text: &str) -> Option<u64> {
    let v = serde_json::from_str::<Value>(text).ok()?;
    if v["type"] != "status" {
        return None;
    }
    v["data"]["status"]["exec_info"]["queue_remaining"].as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_queue_length_of_status_frames() {
        assert_eq!(
            queue_remaining(
                r#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":0}},"sid":"x"}}"#
            ),
            Some(0)
        );
        assert_eq!(
            queue_remaining(
                r#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":2}}}}"#
            ),
            Some(2)
        );
        assert_eq!(
            queue_remaining(r#"{"type":"executing","data":{"node":null}}"#),
            None
        );
        assert_eq!(queue_remaining("not json"), None);
    }
}
