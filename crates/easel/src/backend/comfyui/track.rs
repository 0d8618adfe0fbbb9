//! Following one prompt to its end: WebSocket events while the socket is up, `/history`
//! polling while it is not (and, slower, as a safety net: events of a job resumed by a new
//! process go to the old process's socket), and `/queue` for the position in line.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::api::{HistoryEntry, QueuePlace};
use super::events::{Event, FileRef};
use super::pool::Server;
use super::{ComfyTicket, errors};
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

/// What a look at the server found.
enum Look {
    Done(HistoryEntry),
    Pending(u32),
    Running,
    Absent,
}

async fn look(server: &Server, id: &str) -> Result<Look, BackendError> {
    if let Some(entry) = server.api.history(id).await? {
        return Ok(Look::Done(entry));
    }
    Ok(match server.api.queue_place(id).await? {
        QueuePlace::Pending(p) => Look::Pending(p),
        QueuePlace::Running => Look::Running,
        QueuePlace::Absent => Look::Absent,
    })
}

/// How long tracking goes on while the server does not answer, before the job is lost.
pub struct Patience {
    pub poll: Duration,
    pub lost_after: Duration,
}

pub async fn follow(
    server: &Arc<Server>,
    ticket: &ComfyTicket,
    patience: &Patience,
    events: &EventSink,
) -> Result<Vec<FileRef>, BackendError> {
    let id = ticket.prompt_id.as_str();
    // Counted in flight on this server until tracking ends, however it ends.
    let _following = server.follow(id);
    let mut sub = server.hub.subscribe(id);
    let report = Reporter {
        events,
        nodes: &ticket.nodes,
    };
    let elapsed =
        Duration::from_millis(crate::clock::now_ms().saturating_sub(ticket.submitted_at_ms));
    let deadline = Instant::now() + server.timeout.saturating_sub(elapsed);
    let poll = patience.poll;
    let mut tick = tokio::time::interval(poll);
    let mut ticks = 0u32;
    let mut absent = 0u32;
    // Since when the server has not answered (consecutive failures only).
    let mut failing_since: Option<(Instant, u64)> = None;
    // Queue positions matter only until the prompt starts; checked at most once per poll.
    let mut started = false;
    let mut last_queue_check = Instant::now() - poll;
    report.say(
        0,
        None,
        None,
        if ticket.refused_by.is_empty() {
            format!("ComfyUI: queued on server {}", server.name)
        } else {
            format!(
                "ComfyUI: queued on server {} ({} did not accept it)",
                server.name,
                ticket.refused_by.join(", ")
            )
        },
    );
    loop {
        let socket_up = *sub.connected.borrow();
        tokio::select! {
            event = sub.events.recv() => {
                let Some(event) = event else { continue };
                match event {
                    Event::Executing { node: None, .. } => {
                        // The history is written before this message (§8.4). If it cannot
                        // be read now, the next poll tries again.
                        if let Ok(Some(entry)) = server.api.history(id).await {
                            return done(server, ticket, entry);
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
                        if let Ok(QueuePlace::Pending(p)) = server.api.queue_place(id).await {
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
                // A server that vanished from the network (rather than refusing) lets requests
                // hang until their time-outs and retries run out: a look that takes longer
                // than `lost_after` counts as a failure, dated from when it started.
                let asked = (Instant::now(), crate::clock::now_ms());
                let answer = tokio::time::timeout(patience.lost_after, look(server, id))
                    .await
                    .unwrap_or_else(|_| {
                        Err(errors::unreachable(
                            &server.name,
                            &server.url,
                            &format!("no answer within {} s", patience.lost_after.as_secs()),
                        ))
                    });
                match answer {
                    Ok(found) => {
                        if failing_since.take().is_some() {
                            server.mark_up(None);
                        }
                        match found {
                            Look::Done(entry) => return done(server, ticket, entry),
                            Look::Pending(p) => {
                                absent = 0;
                                report.say(0, None, Some(p), format!("ComfyUI: waiting in the server's queue (position {p})"));
                            }
                            Look::Running => {
                                absent = 0;
                                started = true;
                            }
                            Look::Absent => {
                                // Between leaving the queue and the history write, a prompt is in
                                // neither: only repeated absence means it is gone.
                                absent += 1;
                                if absent >= ABSENT_LOOKS && matches!(server.api.history(id).await, Ok(None)) {
                                    return Err(errors::lost(&server.name, &server.url, id, "no longer knows this job: it is neither queued nor in the history (the server was restarted, or the job was deleted there)"));
                                }
                            }
                        }
                    }
                    // Not answering: the job may still be running there (a restart of the
                    // proxy, a slow answer), so it is given `lost_after` before it is lost.
                    Err(e) if e.kind == ErrorKind::Unreachable => {
                        let (since, since_ms) = *failing_since.get_or_insert(asked);
                        server.report_failure(&e);
                        if since.elapsed() >= patience.lost_after {
                            // A job seen only in the queue was not running there yet.
                            let doing = if started { "running this job" } else { "this job waited in its queue" };
                            let what = format!(
                                "stopped answering while {doing} (unreachable since {}, for {} s: {})",
                                crate::clock::format_utc(since_ms),
                                since.elapsed().as_secs(),
                                errors::reason(&e)
                            );
                            return Err(errors::lost(&server.name, &server.url, id, &what));
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(BackendError::new(
                    ErrorKind::Timeout,
                    format!("ComfyUI server {} did not finish prompt {id} within {} s; it may still be running there (check the ComfyUI queue). Raise comfyui.timeout_secs (EASEL_COMFYUI_TIMEOUT_SECS, or the server's timeout_secs) for long workflows.", server.name, server.timeout.as_secs()),
                ));
            }
        }
    }
}

/// A finished prompt: its files, and its run time for the server's average.
fn done(
    server: &Server,
    ticket: &ComfyTicket,
    entry: HistoryEntry,
) -> Result<Vec<FileRef>, BackendError> {
    let files = finish(entry, &ticket.prompt_id)?;
    server.record_done(ticket.submitted_at_ms);
    Ok(files)
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
        .flat_map(|o| o.files().cloned())
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
                "ComfyUI finished prompt {id} without any image or video; does the workflow end in a SaveImage (or SaveAnimatedWEBP, SaveVideo, VHS_VideoCombine) node?"
            ),
        ));
    }
    Ok(chosen)
}
