//! Every generation is a job: submit → track → collect → succeeded / failed / cancelled
//! (ARCHITECTURE.md decisions 1 and 2). Jobs are stored before anything is sent, run on their own
//! tasks (a caller that stops waiting never stops a job), and are resumed from their stored
//! ticket after a restart, so a paid generation never runs twice by accident.

mod batches;
mod busy;
mod cancel;
mod changes;
mod drain;
mod lease;
mod model;
mod notes;
mod postgres;
mod query;
mod remote;
mod run;
mod slots;
mod sqlite;
mod store;
#[cfg(test)]
mod store_tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError, ErrorKind};
use crate::clock::now_ms;
use crate::config::JobSettings;
use crate::outputs::{OutputRoot, strip_image_extension, validate_relative_dir, validate_stem};
use crate::request::{GenerateRequest, InvalidInput};

pub use batches::BatchRecord;
pub use model::{
    ImageFailure, Job, JobProgress, JobStatus, OutputSpec, PendingFile, SavedImage, batch_key_of,
};
pub use notes::{NoteContent, NoteOutcome, NoteRecord};
pub use postgres::{PgStore, pg_test_database, shown_database_url};
pub use sqlite::SqliteStore;
pub use store::{
    Changed, Facets, Inserted, JobFilter, JobStore, MAX_FACET_BATCHES, MemoryStore, StoreError,
};

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
    #[error(
        "easel already has {0} jobs waiting for a free slot; try again when some finish, or raise jobs.max_queued"
    )]
    Busy(usize),
    #[error("easel could not record the job: {0}")]
    Store(#[from] StoreError),
}

/// What the caller asks for.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub backend: Option<String>,
    pub request: GenerateRequest,
    pub output: OutputSpec,
    /// A second submission with the same key returns the first job instead of a new one.
    pub idempotency_key: Option<String>,
}

/// The job a submission produced, or the existing one its idempotency key named.
#[derive(Clone, Debug)]
pub struct Submitted {
    pub job: Job,
    pub existing: bool,
}

/// How often a job that runs elsewhere is read from the store while someone waits for it.
const STORE_POLL: Duration = Duration::from_millis(250);

/// Waits until the store says job `id` (or anything, "") changed, or that it fell behind
/// (read the store again); false when the store stopped telling.
pub(crate) async fn changed(rx: &mut tokio::sync::broadcast::Receiver<Changed>, id: &str) -> bool {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match rx.recv().await {
            Ok(changed) if id.is_empty() || changed.id == id || changed.id.is_empty() => {
                return true;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => return false,
        }
    }
}

/// What following a job found.
pub enum Followed {
    Gone,
    /// Finished, or not running here by the deadline: its stored state.
    Settled(Box<Job>),
    Live(watch::Receiver<Job>),
}

/// A job that is still running here has a live channel; any other is read from the store.
pub enum Watch {
    Live(watch::Receiver<Job>),
    Done(Box<Job>),
}

/// What `cancel` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The job was running and is being stopped; its final state follows shortly.
    Stopping,
    /// The job was unfinished in the store (run by another easel process) and is now
    /// marked cancelled; the note says whether the backend could stop it.
    Marked(String),
    /// The job had already finished.
    AlreadyFinished(JobStatus),
    NotFound,
}

/// What `retry_save` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetrySave {
    /// The job runs again to fetch and save the missing images.
    Started,
    /// Nothing to do, and why.
    Nothing(String),
}

struct Live {
    tx: watch::Sender<Job>,
    cancel: CancellationToken,
    /// Cancelled when another process took the job over (this one's lease lapsed, e.g. while
    /// the store was away): the job stops here without writing anything.
    abandon: CancellationToken,
}

struct Inner {
    store: Arc<dyn JobStore>,
    backends: BTreeMap<String, Arc<dyn Backend>>,
    default_backend: String,
    outputs: OutputRoot,
    settings: JobSettings,
    /// This process's name on the leases of the jobs it runs (see `lease`).
    owner: String,
    slots: slots::Slots,
    live: Mutex<HashMap<String, Live>>,
    changes: changes::Changes,
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
        settings: JobSettings,
    ) -> Jobs {
        let backends = backends
            .into_iter()
            .map(|b| (b.name().to_string(), b))
            .collect();
        let slots = slots::Slots::new(settings.max_running_per_backend);
        Jobs {
            inner: Arc::new(Inner {
                store,
                backends,
                default_backend,
                outputs,
                settings,
                // The process's identity lets a later easel on this machine see that the
                // holder died, and take its jobs without waiting for the lease to run out.
                owner: format!(
                    "easel-{}-{} {}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple(),
                    crate::process::ProcessId::current().to_text()
                ),
                slots,
                live: Mutex::new(HashMap::new()),
                changes: changes::Changes::new(),
            }),
        }
    }

    /// The store itself, for records that are not jobs (published notes).
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.inner.store
    }

    pub fn outputs(&self) -> &OutputRoot {
        &self.inner.outputs
    }

    /// Every configured backend.
    pub fn backends(&self) -> Vec<Arc<dyn Backend>> {
        self.inner.backends.values().cloned().collect()
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
    pub fn submit(&self, new: NewJob) -> Result<Submitted, SubmitError> {
        let NewJob {
            backend,
            request,
            mut output,
            idempotency_key,
        } = new;
        let backend = self.backend(backend.as_deref())?;
        request.validate()?;
        let warnings = backend.validate(&request)?;
        if let Some(dir) = &output.dir {
            validate_relative_dir(dir)?;
        }
        if let Some(stem) = &output.stem {
            let stem = strip_image_extension(stem).to_string();
            validate_stem(&stem)?;
            output.stem = Some(stem);
        }
        if let Some(key) = &idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(InvalidInput::new(
                "idempotency_key",
                format!("has {} characters", key.len()),
                "Use 1 to 200 characters, e.g. a hash of the request or a batch line id.",
            )
            .into());
        }
        // A key is matched exactly by every store; a control character (which PostgreSQL
        // cannot even store, in the case of NUL) is never part of a real one.
        if let Some(key) = &idempotency_key
            && key.chars().any(char::is_control)
        {
            return Err(InvalidInput::new(
                "idempotency_key",
                "contains a control character",
                "Use printable characters, e.g. a hash of the request or a batch line id.",
            )
            .into());
        }
        backend.preflight()?;
        let waiting = self.queued_here();
        if waiting >= self.inner.settings.max_queued {
            return Err(SubmitError::Busy(waiting));
        }
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
            pending_files: Vec::new(),
            failures: Vec::new(),
            error: None,
            warnings,
            idempotency_key,
            created_at_ms: now,
            updated_at_ms: now,
            finished_at_ms: None,
        };
        let lease_until = now + self.inner.settings.lease.as_millis() as u64;
        match self
            .inner
            .store
            .insert(&job, &self.inner.owner, lease_until)?
        {
            Inserted::Existing(existing) => {
                tracing::info!(job = %existing.id, "idempotency key matched an existing job");
                let job = self.get(&existing.id)?.unwrap_or(*existing);
                Ok(Submitted {
                    job,
                    existing: true,
                })
            }
            Inserted::New => {
                self.start(job.clone(), backend);
                Ok(Submitted {
                    job,
                    existing: false,
                })
            }
        }
    }

    fn queued_here(&self) -> usize {
        self.inner.slots.waiting()
    }

    fn start(&self, job: Job, backend: Arc<dyn Backend>) {
        let cancel = CancellationToken::new();
        let abandon = CancellationToken::new();
        let (tx, _) = watch::channel(job.clone());
        if let Ok(mut live) = self.inner.live.lock() {
            if live.contains_key(&job.id) {
                return;
            }
            live.insert(
                job.id.clone(),
                Live {
                    tx,
                    cancel: cancel.clone(),
                    abandon: abandon.clone(),
                },
            );
        }
        self.inner.changes.send(&job);
        // Taking the slot (or a place in line) here, not in the task, keeps queue counts exact.
        let slot = self.inner.slots.try_take(backend.name(), &job.id);
        let (jobs, id) = (self.clone(), job.id.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = run::run(jobs.clone(), id.clone(), backend, slot, cancel) => {}
                () = abandon.cancelled() => {
                    tracing::warn!(job = %id, "another easel took this job over (this one's lease lapsed); stopped here without writing");
                    jobs.forget(&id);
                }
            }
        });
    }

    /// The ids of the jobs running here, to compare with what a renewal says is held.
    fn running_here(&self) -> Vec<String> {
        self.inner
            .live
            .lock()
            .map(|live| live.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops, without writing, the jobs of `before` (running here before the renewal) that
    /// `held` (what the store says this process holds) no longer has: another process
    /// claimed them after this one's lease lapsed, and resumes them from their stored state.
    /// Jobs started since are not judged by a renewal that could not have seen them.
    fn abandon_lost(&self, before: &[String], held: &[String]) {
        let Ok(live) = self.inner.live.lock() else {
            return;
        };
        for id in before.iter().filter(|id| !held.contains(id)) {
            if let Some(l) = live.get(id)
                && !l.tx.borrow().status.is_terminal()
            {
                l.abandon.cancel();
            }
        }
    }

    /// Renews this process's leases and resumes unfinished jobs nobody else runs, now and
    /// then every third of a lease. `resume` is false for short-lived commands, which only
    /// keep their own jobs' leases.
    pub fn start_background(&self, resume: bool) {
        if resume {
            // What a killed easel was writing when it died; walking the output root is
            // plain disk work, kept off the runtime's threads.
            self.sweep_temp_files();
        }
        tokio::spawn(lease::maintain(self.clone(), resume));
        tokio::spawn(remote::follow_store(self.clone()));
    }

    /// Removes, off the runtime's threads, the temporary files killed easel processes left
    /// in the output root (at start, and when a replica sharing the root is found dead).
    fn sweep_temp_files(&self) {
        let outputs = self.inner.outputs.clone();
        tokio::task::spawn_blocking(move || {
            let removed = outputs.remove_abandoned_temp_files();
            if removed > 0 {
                tracing::info!(
                    removed,
                    "removed temporary files left by easel processes that were killed"
                );
            }
        });
    }

    /// The job as it is now.
    pub fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        if let Some(job) = self.live_snapshot(id) {
            return Ok(Some(job));
        }
        self.inner.store.get(id)
    }

    /// What the stored jobs have, for filter menus.
    pub fn facets(&self) -> Result<Facets, StoreError> {
        self.inner.store.facets()
    }

    pub fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let mut jobs = self.inner.store.list(filter)?;
        for job in &mut jobs {
            if let Some(live) = self.live_snapshot(&job.id) {
                *job = live;
            }
        }
        Ok(jobs)
    }

    /// Deletes finished jobs older than `age` from the store. Files are never deleted.
    pub fn prune(&self, age: Duration) -> Result<usize, StoreError> {
        self.inner
            .store
            .prune(now_ms().saturating_sub(age.as_millis() as u64))
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
        let deadline = tokio::time::Instant::now() + budget;
        let mut rx = match self.follow(id, deadline).await? {
            Followed::Gone => return Ok(None),
            Followed::Settled(job) => {
                seen(&job);
                return Ok(Some(*job));
            }
            Followed::Live(rx) => rx,
        };
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

    /// A live channel for the job once it runs here; until then (it runs in another easel
    /// process sharing the store, or waits to be resumed) its stored state is read now and
    /// then. Ends early when the job is finished or the deadline passes.
    pub async fn follow(
        &self,
        id: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Followed, StoreError> {
        // Subscribed before the first read, so a change committed between the read and the
        // wait still wakes it.
        let mut changes = self.inner.store.changes();
        loop {
            match self.watch(id)? {
                None => return Ok(Followed::Gone),
                Some(Watch::Live(rx)) => return Ok(Followed::Live(rx)),
                Some(Watch::Done(job)) => {
                    if job.status.is_terminal() || tokio::time::Instant::now() >= deadline {
                        return Ok(Followed::Settled(job));
                    }
                }
            }
            let until = deadline.min(tokio::time::Instant::now() + STORE_POLL);
            match changes.as_mut() {
                // A store that tells (PostgreSQL's NOTIFY) wakes this at once; the poll stays
                // as the fallback for a notification lost with a connection.
                Some(rx) => {
                    if let Ok(false) = tokio::time::timeout_at(until, changed(rx, id)).await {
                        changes = None;
                    }
                }
                None => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// Fetches again, from what the backend still holds, the images of a finished job that
    /// were made but could not be downloaded or saved (a full disk, a folder in the way):
    /// the job runs again from its stored ticket, so nothing is generated (or paid) twice,
    /// and images already saved are kept. `None` if no such job exists.
    pub fn retry_save(&self, id: &str) -> Result<Option<RetrySave>, StoreError> {
        let nothing = |why: &str| Ok(Some(RetrySave::Nothing(why.to_string())));
        if self.live_snapshot(id).is_some() {
            return nothing("the job is still running; its images are saved as they finish");
        }
        let Some(mut job) = self.inner.store.get(id)? else {
            return Ok(None);
        };
        if !job.status.is_terminal() {
            return nothing("the job is still running in another easel process");
        }
        if job.status == JobStatus::Cancelled {
            return nothing("the job was cancelled");
        }
        if job.ticket.is_none() {
            return nothing("the job never reached its backend, so there is nothing to fetch");
        }
        if !job
            .failures
            .iter()
            .any(|f| matches!(f.error.kind, ErrorKind::Save | ErrorKind::Download))
        {
            return nothing("no image of this job failed to download or save");
        }
        let backend = match self.backend(Some(&job.backend)) {
            Ok(backend) => backend,
            Err(e) => return nothing(&e.to_string()),
        };
        let now = now_ms();
        job.status = JobStatus::Running;
        job.finished_at_ms = None;
        job.error = None;
        // Rebuilt from the backend's answer; the images already saved stay.
        job.failures.clear();
        job.progress.message = "fetching the images again".into();
        job.updated_at_ms = now;
        let until = now + self.inner.settings.lease.as_millis() as u64;
        if !self.inner.store.reopen(&job, &self.inner.owner, until)? {
            return nothing("another easel process is already running it again");
        }
        tracing::info!(job = id, "fetching and saving images again");
        self.start(job, backend);
        Ok(Some(RetrySave::Started))
    }

    /// Stops a job: here if it runs here, else by marking it cancelled in the store (the
    /// process running it notices and stops) and asking its backend to cancel.
    pub async fn cancel(&self, id: &str) -> Result<Cancelled, StoreError> {
        if let Ok(live) = self.inner.live.lock()
            && let Some(l) = live.get(id)
        {
            l.cancel.cancel();
            return Ok(Cancelled::Stopping);
        }
        let Some(mut job) = self.inner.store.get(id)? else {
            return Ok(Cancelled::NotFound);
        };
        if job.status.is_terminal() {
            return Ok(Cancelled::AlreadyFinished(job.status));
        }
        let backend = self.backend(Some(&job.backend)).ok();
        let note = cancel::stop_at_backend(job.ticket.as_ref(), backend.as_deref()).await;
        cancel::mark(&mut job, note.clone());
        job.finished_at_ms = Some(now_ms());
        job.updated_at_ms = now_ms();
        self.inner.store.put(&job)?;
        self.inner.changes.send(&job);
        Ok(Cancelled::Marked(note))
    }

    /// Changes a running job, tells its watchers, and (when `persist`) stores it. A job that
    /// another process marked cancelled in the store is stopped instead of overwritten.
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
        self.inner.changes.send(&job);
        if persist {
            match self.store_held(&job) {
                Ok(Held::Stored) => {}
                Ok(Held::Refused(why)) => {
                    tracing::info!(job = id, why, "update not stored");
                    return None;
                }
                Err(e) => tracing::error!(job = id, error = %e, "could not store job update"),
            }
        }
        Some(job)
    }

    /// Stores the state of a job running here, only while this process holds its lease and
    /// nobody cancelled it (`JobStore::put_held`, one statement: no read before each write).
    /// Refused, the job stops here: cancelled elsewhere, its watchers see the stored state;
    /// taken over by another process, it stops without writing.
    fn store_held(&self, job: &Job) -> Result<Held, StoreError> {
        if self.inner.store.put_held(job, &self.inner.owner)? {
            return Ok(Held::Stored);
        }
        let stored = self.inner.store.get(&job.id)?;
        let Ok(live) = self.inner.live.lock() else {
            return Ok(Held::Refused("the job no longer runs here"));
        };
        let Some(l) = live.get(&job.id) else {
            return Ok(Held::Refused("the job no longer runs here"));
        };
        match stored {
            Some(stored) if stored.status == JobStatus::Cancelled => {
                l.tx.send_replace(stored);
                l.cancel.cancel();
                Ok(Held::Refused("another easel process cancelled it"))
            }
            _ => {
                l.abandon.cancel();
                Ok(Held::Refused(
                    "another easel process took it over; it continues there",
                ))
            }
        }
    }

    /// Whether another process marked this running job cancelled in the store; if so, it is
    /// stopped here too.
    fn cancelled_elsewhere(&self, id: &str) -> bool {
        let Ok(Some(stored)) = self.inner.store.get(id) else {
            return false;
        };
        if stored.status != JobStatus::Cancelled {
            return false;
        }
        if let Ok(live) = self.inner.live.lock()
            && let Some(l) = live.get(id)
        {
            l.cancel.cancel();
        }
        true
    }

    /// Records, before an image's file takes its name, the file it will be (see
    /// [`PendingFile`]). Unlike other updates a failure here is the caller's to act on: an
    /// unrecorded file must not be published.
    fn record_pending(&self, id: &str, pending: PendingFile) -> Result<(), String> {
        let index = pending.image.index;
        let job = self
            .update(id, false, |j| {
                j.pending_files.retain(|p| p.image.index != index);
                j.pending_files.push(pending);
            })
            .ok_or("the job no longer runs here")?;
        // Runs on a blocking thread (the save), so it may wait out a short store outage (a
        // database restart) instead of failing an image that was made and paid for.
        let mut wait = Duration::from_millis(100);
        let give_up = std::time::Instant::now() + PENDING_PATIENCE;
        loop {
            match self.store_held(&job) {
                Ok(Held::Stored) => return Ok(()),
                Ok(Held::Refused(why)) => return Err(why.to_string()),
                Err(e) if std::time::Instant::now() + wait > give_up => return Err(e.to_string()),
                Err(e) => {
                    tracing::warn!(job = id, error = %e, "could not record the file being saved; trying again");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Stores the final state and drops the live channel (watchers see the last value).
    /// While the store cannot take it (a database outage), the job stays live here, answered
    /// from memory and its lease renewed, and the final state is stored as soon as it can
    /// be: never lost, and never resumed elsewhere as if unfinished.
    fn finish(&self, id: &str, change: impl FnOnce(&mut Job)) {
        let job = self.update(id, false, |job| {
            change(job);
            // A save that did not finish by now never will in this run.
            job.pending_files.clear();
            job.finished_at_ms = Some(now_ms());
        });
        if let Some(job) = job {
            tracing::info!(
                job = id,
                status = job.status.as_str(),
                images = job.images.len(),
                "job finished"
            );
            match self.store_held(&job) {
                Ok(Held::Stored) => {}
                Ok(Held::Refused(why)) => {
                    tracing::warn!(job = id, why, "not storing the finished job");
                }
                Err(e) => {
                    tracing::warn!(job = id, error = %e, "could not store the finished job; trying again until the store answers");
                    tokio::spawn(store_final(self.clone(), job));
                    return;
                }
            }
        }
        self.forget(id);
    }

    fn forget(&self, id: &str) {
        if let Ok(mut live) = self.inner.live.lock() {
            live.remove(id);
        }
    }
}

/// What storing a running job's state did.
enum Held {
    Stored,
    /// Not written, and why: the job stops here.
    Refused(&'static str),
}

/// How long saving an image waits for the store to record its name before giving up.
const PENDING_PATIENCE: Duration = Duration::from_secs(30);

/// Stores a finished job's state once the store answers again, then lets the job go.
async fn store_final(jobs: Jobs, job: Job) {
    let mut wait = Duration::from_millis(250);
    loop {
        tokio::time::sleep(wait).await;
        let (here, state) = (jobs.clone(), job.clone());
        match tokio::task::spawn_blocking(move || here.store_held(&state)).await {
            Ok(Ok(Held::Stored)) => {
                tracing::info!(job = %job.id, "stored the finished job");
                jobs.forget(&job.id);
                return;
            }
            Ok(Ok(Held::Refused(why))) => {
                tracing::warn!(job = %job.id, why, "not storing the finished job");
                jobs.forget(&job.id);
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!(job = %job.id, error = %e, "the store still cannot take the finished job")
            }
            Err(_) => return,
        }
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}
