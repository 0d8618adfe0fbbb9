//! Several ComfyUI servers as one backend. ComfyUI's own queue is the source of truth: a
//! new job goes to the server, among those that answer and have what the workflow needs,
//! with the shortest expected wait ([`choose`]); it then stays there (the ticket names the
//! server). Servers are watched in the background ([`health`]) and what each can run is
//! read from its `/object_info` ([`capabilities`]).
//!
//! Every configured server lives once in the [`Pool`]; the `comfyui` backend uses all of
//! them and each named pool a subset ([`Group`]), so health, queues, jobs in flight and
//! WebSockets are shared.

pub mod capabilities;
pub mod choose;
mod explain;
pub mod health;
pub mod server;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::join_all;

use crate::backend::BackendError;
use crate::config::ComfySettings;
use crate::workflows::Requirements;

pub use capabilities::{Capabilities, Lack};
pub use explain::none_accepted;
pub use health::Health;
pub use server::{Reservation, Server};

/// Every configured server, shared by the backends built on them.
pub struct Pool {
    servers: Vec<Arc<Server>>,
    health_every: Duration,
    started: AtomicBool,
    /// Advances with every choice: equal servers take jobs in turn.
    turn: AtomicUsize,
    /// Choosing and counting the chosen job in flight happen together, so that jobs
    /// submitted at the same moment see each other.
    choosing: Mutex<()>,
}

/// The servers one backend sends jobs to: all of them (`comfyui`) or a named pool.
#[derive(Clone)]
pub struct Group {
    pub name: String,
    pub members: Vec<Arc<Server>>,
}

impl Pool {
    pub fn new(settings: &ComfySettings) -> Result<Arc<Pool>, BackendError> {
        // One client id per process: ComfyUI replaces an older socket with the same id.
        let client_id = uuid::Uuid::new_v4().to_string();
        let servers = settings
            .servers
            .iter()
            .map(|s| Server::new(s, &client_id).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Pool {
            servers,
            health_every: settings.health_every,
            started: AtomicBool::new(false),
            turn: AtomicUsize::new(0),
            choosing: Mutex::new(()),
        }))
    }

    /// `comfyui` (every server), then one group per pool name.
    pub fn groups(&self, pools: &[String]) -> Vec<Group> {
        let mut groups = vec![Group {
            name: "comfyui".into(),
            members: self.servers.clone(),
        }];
        for pool in pools {
            groups.push(Group {
                name: pool.clone(),
                members: self
                    .servers
                    .iter()
                    .filter(|s| s.pools.contains(pool))
                    .cloned()
                    .collect(),
            });
        }
        groups
    }

    /// The server a ticket names: by name, or by base URL for tickets written before pools
    /// (and, then, the only server when there is just one, as those tickets were used).
    pub fn find(&self, server: &str) -> Option<Arc<Server>> {
        if server.is_empty() {
            return None;
        }
        let url = server.trim_end_matches('/');
        self.servers
            .iter()
            .find(|s| s.name == server)
            .or_else(|| self.servers.iter().find(|s| s.url == url))
            .or_else(|| (url.contains("://") && self.servers.len() == 1).then(|| &self.servers[0]))
            .cloned()
    }

    /// The server an image URL points at, for its headers.
    pub fn for_url(&self, url: &str) -> Option<Arc<Server>> {
        self.servers
            .iter()
            .filter(|s| url.starts_with(&format!("{}/", s.url)))
            .max_by_key(|s| s.url.len())
            .cloned()
    }

    /// Starts the health checks, once, when a runtime is there to run them.
    pub fn start_health(&self) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.started.store(false, Ordering::SeqCst);
            return;
        };
        for server in &self.servers {
            runtime.spawn(health::watch(Arc::downgrade(server), self.health_every));
        }
    }

    /// "every server is down", naming each with its last failure, if that is so.
    pub fn all_down(&self, group: &Group) -> Option<BackendError> {
        let members: Vec<(usize, &Arc<Server>)> = group.members.iter().enumerate().collect();
        let down = down_list(&members);
        (down.len() == members.len()).then(|| explain::all_down(&group.name, &down))
    }

    /// How long a reported queue length stays believable without the WebSocket.
    pub fn fresh(&self) -> Duration {
        self.health_every * 2
    }

    /// Chooses the server for a new job and counts the job in flight there. `needs` is
    /// what the workflow uses (checked against each server's `/object_info`, a single
    /// server too; `None` skips the check); servers in `skip` already refused this job.
    pub async fn pick(
        &self,
        group: &Group,
        needs: Option<&Requirements>,
        skip: &HashSet<String>,
        prompt_id: &str,
    ) -> Result<(Arc<Server>, server::Reservation), BackendError> {
        let members: Vec<(usize, &Arc<Server>)> = group
            .members
            .iter()
            .enumerate()
            .filter(|(_, s)| !skip.contains(&s.name))
            .collect();
        let mut usable: Vec<(usize, &Arc<Server>)> = members
            .iter()
            .filter(|(_, s)| !s.health().is_down())
            .copied()
            .collect();
        if usable.is_empty() && !members.is_empty() {
            // Every server is marked down: ask them now instead of waiting for the next
            // check, so a server that was just started is used at once.
            let answers = join_all(members.iter().map(|(_, s)| s.probe())).await;
            let mut last_error = None;
            for ((i, s), answer) in members.iter().zip(answers) {
                match answer {
                    Ok(()) => usable.push((*i, s)),
                    Err(e) => last_error = Some(e),
                }
            }
            if usable.is_empty() {
                return Err(match (members.len(), last_error) {
                    // One server: its own error says best what is wrong and how to fix it.
                    (1, Some(e)) => e,
                    _ => explain::all_down(&group.name, &down_list(&members)),
                });
            }
        }
        if usable.is_empty() {
            return Err(BackendError::new(
                crate::backend::ErrorKind::Unreachable,
                format!("pool {} has no server left to try", group.name),
            ));
        }
        if let Some(needs) = needs {
            usable = self.able(group, &members, usable, needs).await?;
        }
        let _choosing = self.choosing.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = self.fresh();
        let loads: Vec<choose::Load> = usable.iter().map(|(i, s)| s.load(*i, fresh)).collect();
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let best = choose::order(&loads, turn, group.members.len())
            .first()
            .and_then(|i| usable.iter().find(|(j, _)| j == i))
            .map(|(_, s)| (*s).clone())
            .ok_or_else(|| {
                BackendError::new(
                    crate::backend::ErrorKind::Unreachable,
                    format!("pool {} has no server to choose from", group.name),
                )
            })?;
        let reservation = best.reserve(prompt_id);
        Ok((best, reservation))
    }

    /// The usable servers that have what `needs` lists; if none has, their capabilities are
    /// fetched again once (the user may just have added the file) before refusing.
    async fn able<'a>(
        &self,
        group: &Group,
        members: &[(usize, &'a Arc<Server>)],
        usable: Vec<(usize, &'a Arc<Server>)>,
        needs: &Requirements,
    ) -> Result<Vec<(usize, &'a Arc<Server>)>, BackendError> {
        let mut fit = Vec::new();
        let mut lacking: Vec<(usize, &Arc<Server>, Vec<Lack>)> = Vec::new();
        for (i, s) in usable {
            match s.capabilities().await {
                Ok(caps) => {
                    let lacks = caps.lacks(needs);
                    if lacks.is_empty() {
                        fit.push((i, s));
                    } else {
                        lacking.push((i, s, lacks));
                    }
                }
                // A lone server that cannot list what it has still judges the graph itself.
                Err(_) if group.members.len() == 1 => fit.push((i, s)),
                Err(e) => s.report_failure(&e),
            }
        }
        if fit.is_empty() && !lacking.is_empty() {
            let again = join_all(lacking.iter().map(|(_, s, _)| s.refresh_capabilities())).await;
            let mut still = Vec::new();
            for ((i, s, lacks), caps) in lacking.into_iter().zip(again) {
                match caps.map(|c| c.lacks(needs)) {
                    Ok(l) if l.is_empty() => fit.push((i, s)),
                    Ok(l) => still.push((i, s, l)),
                    Err(e) => {
                        s.report_failure(&e);
                        still.push((i, s, lacks));
                    }
                }
            }
            lacking = still;
        }
        if !fit.is_empty() {
            return Ok(fit);
        }
        if let ([(_, server, lacks)], 1) = (lacking.as_slice(), group.members.len()) {
            let caps = server.cached_capabilities().unwrap_or_default();
            return Err(explain::server_lacks(server, lacks, &caps));
        }
        let mut checked: Vec<(String, Vec<Lack>)> = lacking
            .into_iter()
            .map(|(_, s, lacks)| (s.name.clone(), lacks))
            .collect();
        let down = down_list(members);
        // A server that is down but was seen with everything still tells where the files are.
        for (_, s) in members.iter().filter(|(_, s)| s.health().is_down()) {
            if let Some(caps) = s.cached_capabilities() {
                checked.push((s.name.clone(), caps.lacks(needs)));
            }
        }
        Err(
            if down.len() == members.len() && checked.iter().all(|(_, l)| l.is_empty()) {
                explain::all_down(&group.name, &down)
            } else {
                explain::cannot_run(&group.name, &checked, &down)
            },
        )
    }
}

fn down_list(members: &[(usize, &Arc<Server>)]) -> Vec<(String, Health)> {
    members
        .iter()
        .map(|(_, s)| (s.name.clone(), s.health()))
        .filter(|(_, h)| h.is_down())
        .collect()
}
