//! Every generation is a job: submit → track → collect → succeeded / failed / cancelled
//! (DESIGN decisions 1 and 2). Callers submit and then watch a job for as long as they like;
//! the job runs on its own task, so a caller that stops waiting never stops the job.

mod model;
mod run;
mod sqlite;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError};
use crate::clock::now_ms;
use crate::outputs::{OutputRoot, strip_image_extension, validate_relative_dir, validate_stem};
use crate::request::{GenerateRequest, InvalidInput};

pub use model::{ImageFailure, Job, JobProgress, JobStatus, OutputSpec, SavedImage};
pub use sqlite::SqliteStore;
pub use store::{Inserted, JobFilter, JobStore, MemoryStore, StoreError};

/// Why a job could not be created. Nothing was sent to a backend.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("backend: {name:?} is not configured. Use one of: {known}.")]
    UnknownBackend { name: String, known: String },
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Output(#[from] crate::outputs::OutputError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A job that is still running has a live channel; a finished one is read from the store.
pub enum Watch {
    Live(watch::Receiver<Job>),
    Done(Box<Job>),
}

struct Live {
    tx: watch::Sender<Job>,
    cancel: CancellationToken,
}

struct Inner {
    store: Arc<dyn JobStore>,
    backends: BTreeMap<String, Arc<dyn Backend>>,
    default_backend: String,
    outputs: OutputRoot,
    live: Mutex<HashMap<String, Live>>,
}

/// The job manager. Cheap to clone; all clones share the same jobs.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

impl Jobs {
    pub fn new(
        store: Arc<dyn JobStore>,
        backends: Vec<Arc<dyn Backend>>,
        default_backend: String,
        outputs: OutputRoot,
    ) -> Jobs {
        let backends = backends
            .into_iter()
            .map(|b| (b.name().to_string(), b))
            .collect();
        Jobs {
            inner: Arc::new(Inner {
                store,
                backends,
                default_backend,
                outputs,
                live: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn outputs(&self) -> &OutputRoot {
        &self.inner.outputs
    }

    /// The backend called `name`, or the default one.
    pub fn backend(&self, name: Option<&str>) -> Result<Arc<dyn Backend>, SubmitError> {
        let name = name.unwrap_or(&self.inner.default_backend);
        self.inner
            .backends
            .get(name)
            .cloned()
            .ok_or_else(|| SubmitError::UnknownBackend {
                name: name.to_string(),
                known: self
                    .inner
                    .backends
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Validates everything that can be checked locally, records the job, and starts it.
    pub fn submit(
        &self,
        backend: Option<&str>,
        request: GenerateRequest,
        mut output: OutputSpec,
    ) -> Result<Job, SubmitError> {
        let backend = self.backend(backend)?;
        request.validate()?;
        backend.validate(&request)?;
        if let Some(dir) = &output.dir {
            validate_relative_dir(dir)?;
        }
        if let Some(stem) = &output.stem {
            let stem = strip_image_extension(stem).to_string();
            validate_stem(&stem)?;
            output.stem = Some(stem);
        }
        backend.preflight()?;
        let now = now_ms();
        let job = Job {
            id: uuid::Uuid::new_v4().simple().to_string(),
            backend: backend.name().to_string(),
            request,
            output,
            status: JobStatus::Queued,
            progress: JobProgress {
                fraction: 0.0,
                message: "queued".into(),
                queue_position: None,
            },
            ticket: None,
            images: Vec::new(),
            failures: Vec::new(),
            error: None,
            idempotency_key: None,
            created_at_ms: now,
            updated_at_ms: now,
            finished_at_ms: None,
        };
        self.inner.store.insert(&job, "local", u64::MAX)?;
        self.start(job.clone(), backend);
        Ok(job)
    }

    fn start(&self, job: Job, backend: Arc<dyn Backend>) {
        let cancel = CancellationToken::new();
        let (tx, _) = watch::channel(job.clone());
        if let Ok(mut live) = self.inner.live.lock() {
            live.insert(
                job.id.clone(),
                Live {
                    tx,
                    cancel: cancel.clone(),
                },
            );
        }
        tokio::spawn(run::run(self.clone(), job.id, backend, cancel));
    }

    /// The job as it is now.
    pub fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        if let Some(job) = self.live_snapshot(id) {
            return Ok(Some(job));
        }
        self.inner.store.get(id)
    }

    pub fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.inner.store.list(filter)
    }

    fn live_snapshot(&self, id: &str) -> Option<Job> {
        let live = self.inner.live.lock().ok()?;
        live.get(id).map(|l| l.tx.borrow().clone())
    }

    /// A way to follow the job, or `None` if no such job exists.
    pub fn watch(&self, id: &str) -> Result<Option<Watch>, StoreError> {
        if let Ok(live) = self.inner.live.lock()
            && let Some(l) = live.get(id)
        {
            return Ok(Some(Watch::Live(l.tx.subscribe())));
        }
        Ok(self.inner.store.get(id)?.map(|j| Watch::Done(Box::new(j))))
    }

    /// Waits until the job ends or `budget` passes, calling `seen` with every new state.
    pub async fn wait(
        &self,
        id: &str,
        budget: Duration,
        mut seen: impl FnMut(&Job),
    ) -> Result<Option<Job>, StoreError> {
        let mut rx = match self.watch(id)? {
            None => return Ok(None),
            Some(Watch::Done(job)) => {
                seen(&job);
                return Ok(Some(*job));
            }
            Some(Watch::Live(rx)) => rx,
        };
        let deadline = tokio::time::Instant::now() + budget;
        loop {
            let job = rx.borrow_and_update().clone();
            seen(&job);
            if job.status.is_terminal() {
                return Ok(Some(job));
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return self.get(id); },
                _ = tokio::time::sleep_until(deadline) => return Ok(Some(job)),
            }
        }
    }

    /// Asks a running job to stop. Returns false when the job is not running.
    pub fn cancel(&self, id: &str) -> bool {
        let Ok(live) = self.inner.live.lock() else {
            return false;
        };
        match live.get(id) {
            Some(l) => {
                l.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Changes a running job, tells its watchers, and (when `persist`) stores it.
    fn update(&self, id: &str, persist: bool, change: impl FnOnce(&mut Job)) -> Option<Job> {
        let job = {
            let live = self.inner.live.lock().ok()?;
            let l = live.get(id)?;
            l.tx.send_modify(|job| {
                change(job);
                job.updated_at_ms = now_ms();
            });
            l.tx.borrow().clone()
        };
        if persist && let Err(e) = self.inner.store.put(&job) {
            tracing::error!(job = id, error = %e, "could not store job update");
        }
        Some(job)
    }

    /// Stores the final state and drops the live channel (watchers see the last value).
    fn finish(&self, id: &str, change: impl FnOnce(&mut Job)) {
        if let Some(job) = self.update(id, true, |job| {
            change(job);
            job.finished_at_ms = Some(now_ms());
        }) {
            tracing::info!(
                job = id,
                status = job.status.as_str(),
                images = job.images.len(),
                "job finished"
            );
        }
        if let Ok(mut live) = self.inner.live.lock() {
            live.remove(id);
        }
    }
}
