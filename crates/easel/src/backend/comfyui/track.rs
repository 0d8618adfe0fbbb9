//! Following one prompt to its end: WebSocket events while the socket is up, `/history`
//! polling while it is not (and, slower, as a safety net: events of a job resumed by a new
//! process go to the old process's socket), and `/queue` for the position in line.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::api::{HistoryEntry, QueuePlace};
use super::events::{Event, FileRef};
use super::{ComfyTicket, ComfyUi, errors};
use crate::backend::{BackendError, ErrorKind, EventSink, Progress};

/// How often `/history` is read as a safety net while the socket is up.
const SAFETY_NET: u32 = 5;
/// Consecutive looks that find a prompt neither queued nor in history before giving up.
const ABSENT_LOOKS: u32 = 3;

struct Reporter<'a> {
    events: &'a EventSink,
    nodes: &'a BTreeMap<String, String>,
}

impl Reporter<'_> {
    fn class(&self, node: &str) -> String {
        match self.nodes.get(node) {
            Some(class) => format!("node {node} {class}"),
            None => format!("node {node}"),
        }
    }

    fn say(&self, done: u64, total: Option<u64>, queue_position: Option<u32>, message: String) {
        self.events.send(Progress {
            done,
            total,
            queue_position,
            message,
        });
    }
}

pub async fn follow(
    comfy: &ComfyUi,
    ticket: &ComfyTicket,
    events: &EventSink,
) -> Result<Vec<FileRef>, BackendError> {
    let id = ticket.prompt_id.as_str();
    let mut sub = comfy.hub.subscribe(id);
    let report = Reporter {
        events,
        nodes: &ticket.nodes,
    };
    let elapsed =
        Duration::from_millis(crate::clock::now_ms().saturating_sub(ticket.submitted_at_ms));
    let deadline = Instant::now() + comfy.settings.timeout.saturating_sub(elapsed);
    let poll = comfy.settings.poll;
    let mut tick = tokio::time::interval(poll);
    let mut ticks = 0u32;
    let mut absent = 0u32;
    // Queue positions matter only until the prompt starts; checked at most once per poll.
    let mut started = false;
    let mut last_queue_check = Instant::now() - poll;
    loop {
        let socket_up = *sub.connected.borrow();
        tokio::select! {
            event = sub.events.recv() => {
                let Some(event) = event else { continue };
                match event {
                    Event::Executing { node: None, .. } => {
                        // The history is written before this message (§8.4).
                        if let Some(entry) = comfy.api.history(id).await? {
                            return finish(entry, id);
                        }
                    }
                    Event::Executing { node: Some(node), .. } => {
                        started = true;
                        report.say(0, None, None, format!("ComfyUI: running {}", report.class(&node)));
                    }
                    Event::Started { .. } => {
                        started = true;
                        report.say(0, None, None, "ComfyUI: started".into());
                    }
                    Event::Cached { nodes, .. } if !nodes.is_empty() => {
                        report.say(0, None, None, format!("ComfyUI: {} node(s) reused from cache", nodes.len()));
                    }
                    Event::Progress { value, max, node, .. } if max > 0.0 => {
                        let at = node.map(|n| format!(" ({})", report.class(&n))).unwrap_or_default();
                        report.say(value as u64, Some(max as u64), None, format!("ComfyUI: step {value}/{max}{at}"));
                    }
                    Event::Failed { error, .. } => return Err(errors::execution_failed(&error)),
                    Event::Interrupted { node_id, node_type, .. } => {
                        return Err(errors::interrupted(node_id.as_deref(), node_type.as_deref()));
                    }
                    Event::Status { .. } if !started && last_queue_check.elapsed() >= poll => {
                        last_queue_check = Instant::now();
                        if let QueuePlace::Pending(p) = comfy.api.queue_place(id).await.unwrap_or(QueuePlace::Absent) {
                            report.say(0, None, Some(p), format!("ComfyUI: waiting in the server's queue (position {p})"));
                        }
                    }
                    _ => {}
                }
            }
            _ = tick.tick() => {
                ticks += 1;
                // With the socket up, the history is only a safety net.
                if socket_up && ticks % SAFETY_NET != 1 {
                    continue;
                }
                if let Some(entry) = comfy.api.history(id).await? {
                    return finish(entry, id);
                }
                match comfy.api.queue_place(id).await? {
                    QueuePlace::Pending(p) => {
                        absent = 0;
                        report.say(0, None, Some(p), format!("ComfyUI: waiting in the server's queue (position {p})"));
                    }
                    QueuePlace::Running => absent = 0,
                    QueuePlace::Absent => {
                        // Between leaving the queue and the history write, a prompt is in
                        // neither: only repeated absence means it is gone.
                        absent += 1;
                        if absent >= ABSENT_LOOKS && comfy.api.history(id).await?.is_none() {
                            return Err(BackendError::new(
                                ErrorKind::Failed,
                                format!("ComfyUI at {} no longer knows prompt {id}: it is neither queued nor in the history (the server was restarted, or the job was deleted there). Generate again.", comfy.api.base()),
                            ));
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(BackendError::new(
                    ErrorKind::Timeout,
                    format!("ComfyUI did not finish prompt {id} within {} s; it may still be running there (check the ComfyUI queue). Raise comfyui.timeout_secs (EASEL_COMFYUI_TIMEOUT_SECS) for long workflows.", comfy.settings.timeout.as_secs()),
                ));
            }
        }
    }
}

/// The result files of a finished prompt, or why it failed. Saved outputs (`type:
/// output`) are the result; previews (`temp`) only when a workflow saves nothing.
fn finish(entry: HistoryEntry, id: &str) -> Result<Vec<FileRef>, BackendError> {
    if entry.status.status_str == "error" || !entry.status.completed {
        for (name, data) in entry.status.messages.iter().rev() {
            match name.as_str() {
                "execution_error" => {
                    let e = serde_json::from_value(data.clone()).unwrap_or_default();
                    return Err(errors::execution_failed(&e));
                }
                "execution_interrupted" => {
                    let s = |k: &str| data.get(k).and_then(|v| v.as_str()).map(str::to_string);
                    return Err(errors::interrupted(
                        s("node_id").as_deref(),
                        s("node_type").as_deref(),
                    ));
                }
                _ => {}
            }
        }
        if entry.status.status_str == "error" {
            return Err(BackendError::new(
                ErrorKind::Failed,
                format!(
                    "ComfyUI reports prompt {id} failed without details; see the ComfyUI console."
                ),
            ));
        }
    }
    let files: Vec<FileRef> = entry
        .outputs
        .values()
        .flat_map(|o| o.images.iter().cloned())
        .collect();
    let saved: Vec<FileRef> = files
        .iter()
        .filter(|f| f.kind == "output")
        .cloned()
        .collect();
    let chosen = if saved.is_empty() { files } else { saved };
    if chosen.is_empty() {
        return Err(BackendError::new(
            ErrorKind::Failed,
            format!(
                "ComfyUI finished prompt {id} without any image; does the workflow end in a SaveImage node?"
            ),
        ));
    }
    Ok(chosen)
}
