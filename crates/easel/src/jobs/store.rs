//! Where jobs are kept, behind a small trait so that a shared database can replace SQLite
//! (or the in-memory map used by tests) without touching callers.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::batches::BatchRecord;
use super::model::{Job, JobStatus};
use super::notes::NoteRecord;

/// Errors of the store itself (not of jobs).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Which jobs to list, newest first (by `created_at_ms`, then `id`). Every condition given
/// must hold. Plain equality, ranges and a substring: any SQL store can index them.
#[derive(Clone, Debug)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    /// Any of these statuses (empty: any status); applies together with `status`.
    pub statuses: Vec<JobStatus>,
    /// Only jobs created at or after this time (ms since the epoch).
    pub since_ms: u64,
    /// Only jobs created before this time (ms since the epoch).
    pub until_ms: Option<u64>,
    pub backend: Option<String>,
    /// The model id or the workflow name (either matches).
    pub model: Option<String>,
    /// The batch key of the batch whose line made the job (see [`Job::batch_key`]).
    pub batch: Option<String>,
    /// A case-insensitive substring of the prompt.
    pub text: Option<String>,
    /// Keyset paging: only jobs after this one in the order, i.e. with a smaller
    /// `(created_at_ms, id)`. Unlike `offset`, stays fast and stable while jobs arrive.
    pub before: Option<(u64, String)>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for JobFilter {
    fn default() -> Self {
        JobFilter {
            status: None,
            statuses: Vec::new(),
            since_ms: 0,
            until_ms: None,
            backend: None,
            model: None,
            batch: None,
            text: None,
            before: None,
            limit: 50,
            offset: 0,
        }
    }
}

impl JobFilter {
    /// The text condition as compared: lowercase, so "Cat" finds "a cat".
    pub fn text_lower(&self) -> Option<String> {
        self.text
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
    }

    /// Whether `job` passes every condition except paging (the in-memory store's filter,
    /// and the reference the SQLite store's query is tested against).
    pub fn matches(&self, job: &Job) -> bool {
        let r = &job.request;
        self.status.is_none_or(|s| job.status == s)
            && (self.statuses.is_empty() || self.statuses.contains(&job.status))
            && job.created_at_ms >= self.since_ms
            && self.until_ms.is_none_or(|u| job.created_at_ms < u)
            && self.backend.as_deref().is_none_or(|b| job.backend == b)
            && self
                .model
                .as_deref()
                .is_none_or(|m| r.model.as_deref() == Some(m) || r.workflow.as_deref() == Some(m))
            && self
                .batch
                .as_deref()
                .is_none_or(|b| job.batch_key() == Some(b))
            && self
                .text_lower()
                .is_none_or(|t| r.prompt.to_lowercase().contains(&t))
            && self
                .before
                .as_ref()
                .is_none_or(|(at, id)| (job.created_at_ms, job.id.as_str()) < (*at, id.as_str()))
    }
}

/// What the jobs in the store have, for filter menus.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facets {
    pub backends: Vec<String>,
    /// Model ids and workflow names, each once.
    pub models: Vec<String>,
    /// Batch keys with their number of jobs, most recent batch first (at most
    /// [`MAX_FACET_BATCHES`]).
    pub batches: Vec<(String, u64)>,
    pub statuses: Vec<JobStatus>,
}

/// Batches listed in [`Facets`]: a menu, not a report.
pub const MAX_FACET_BATCHES: usize = 200;

/// A job some process wrote (see [`JobStore::changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// Empty: anything may have changed (the store could not tell for a while).
    pub id: String,
    /// The written state's `updated_at_ms`: lets the writer know its own write.
    pub updated_at_ms: u64,
}

impl Changed {
    /// Parses the store's notification, `"{id} {updated_at_ms}"`.
    pub fn parse(payload: &str) -> Changed {
        let (id, at) = payload.split_once(' ').unwrap_or((payload, ""));
        Changed {
            id: id.to_string(),
            updated_at_ms: at.parse().unwrap_or(0),
        }
    }

    /// "Anything may have changed".
    pub fn anything() -> Changed {
        Changed {
            id: String::new(),
            updated_at_ms: 0,
        }
    }
}

/// The result of inserting a job that may carry an idempotency key already in use.
#[derive(Debug)]
pub enum Inserted {
    New,
    Existing(Box<Job>),
}

pub trait JobStore: Send + Sync {
    /// Inserts a new job leased to `owner`, unless its idempotency key is taken: then the
    /// job holding the key is returned and nothing is written.
    fn insert(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<Inserted, StoreError>;
    /// Replaces the stored state of an existing job.
    fn put(&self, job: &Job) -> Result<(), StoreError>;
    /// Replaces the stored state of a job `owner` runs, only while `owner` holds its lease
    /// and no other process marked it cancelled; false, and nothing written, otherwise (the
    /// caller reads the job to learn which). Every write of the process running a job goes
    /// through this, so one whose lease lapsed can never overwrite the state of the process
    /// that resumed the job, and nobody overwrites a cancel.
    fn put_held(&self, job: &Job, owner: &str) -> Result<bool, StoreError>;
    fn get(&self, id: &str) -> Result<Option<Job>, StoreError>;
    fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;
    /// Jobs updated after `updated_after_ms`, oldest update first, at most `limit`: how one
    /// easel sees jobs that another process sharing the store changed.
    fn changed_since(&self, updated_after_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError>;
    /// The distinct backends, models and workflows, batches and statuses of the stored jobs.
    fn facets(&self) -> Result<Facets, StoreError>;
    /// The owners holding leases on unfinished jobs, each once.
    fn lease_holders(&self) -> Result<Vec<String>, StoreError>;
    /// Takes over, for `owner`, the unfinished jobs nobody holds a live lease on and those
    /// held by `vacated` owners (known to be gone, whatever their lease says).
    fn claim_unfinished(
        &self,
        owner: &str,
        now_ms: u64,
        lease_until_ms: u64,
        vacated: &[String],
    ) -> Result<Vec<Job>, StoreError>;
    /// Replaces a finished job with `job` (unfinished again), leased to `owner`; false, and
    /// nothing written, if the stored job is not finished (someone reopened it first).
    fn reopen(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<bool, StoreError>;
    /// Extends the lease on every unfinished job `owner` holds; returns their ids (a job
    /// missing from them was taken over by another process while `owner`'s lease lapsed).
    fn renew(&self, owner: &str, lease_until_ms: u64) -> Result<Vec<String>, StoreError>;
    /// Deletes finished jobs that finished before the given time; returns how many.
    fn prune(&self, finished_before_ms: u64) -> Result<usize, StoreError>;
    /// Inserts a published note, or replaces the record with the same id (its outcome).
    fn record_note(&self, note: &NoteRecord) -> Result<(), StoreError>;
    /// Published notes, newest first.
    fn list_notes(&self, limit: usize) -> Result<Vec<NoteRecord>, StoreError>;
    /// One published note by its record id.
    fn get_note(&self, id: &str) -> Result<Option<NoteRecord>, StoreError>;
    /// The job holding idempotency key `key`.
    fn find_by_key(&self, key: &str) -> Result<Option<Job>, StoreError>;
    /// Inserts a batch, or replaces the lines of the batch with the same id (keeping its
    /// creation time, and its cancellation once set).
    fn put_batch(&self, batch: &BatchRecord) -> Result<(), StoreError>;
    fn get_batch(&self, id: &str) -> Result<Option<BatchRecord>, StoreError>;
    /// Every batch, oldest first (`easel store migrate`).
    fn list_batches(&self) -> Result<Vec<BatchRecord>, StoreError>;
    /// Inserts `job` as it is, unowned (any easel may claim it if unfinished), unless a job
    /// with its id exists: then false and nothing is written (`easel store migrate`).
    fn import_job(&self, job: &Job) -> Result<bool, StoreError>;
    /// Whether the store answers (`/healthz`).
    fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The jobs written by any process sharing the store, as the store learns of them, for
    /// waiters that would otherwise poll. `None`: this store does not tell (callers poll).
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Changed>> {
        None
    }
    /// "sqlite", "postgres" or "memory" (`/healthz`).
    fn kind(&self) -> &'static str;
    /// Where the jobs are kept, for messages about ids this store does not know.
    fn location(&self) -> String;
}

struct Entry {
    job: Job,
    owner: Option<String>,
    lease_until_ms: u64,
}

/// Jobs in memory, lost when the process ends (tests, and `easel demo`).
#[derive(Default)]
pub struct MemoryStore {
    jobs: Mutex<HashMap<String, Entry>>,
    notes: Mutex<Vec<NoteRecord>>,
    batches: Mutex<HashMap<String, BatchRecord>>,
}

impl MemoryStore {
    fn lock(&self) -> Result<MutexGuard<'_, HashMap<String, Entry>>, StoreError> {
        self.jobs
            .lock()
            .map_err(|_| StoreError("in-memory store poisoned by an earlier panic".into()))
    }
}

impl JobStore for MemoryStore {
    fn insert(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<Inserted, StoreError> {
        let mut jobs = self.lock()?;
        if let Some(key) = &job.idempotency_key
            && let Some(e) = jobs
                .values()
                .find(|e| e.job.idempotency_key.as_ref() == Some(key))
        {
            return Ok(Inserted::Existing(Box::new(e.job.clone())));
        }
        jobs.insert(
            job.id.clone(),
            Entry {
                job: job.clone(),
                owner: Some(owner.to_string()),
                lease_until_ms,
            },
        );
        Ok(Inserted::New)
    }

    fn put(&self, job: &Job) -> Result<(), StoreError> {
        let mut jobs = self.lock()?;
        match jobs.get_mut(&job.id) {
            Some(e) => e.job = job.clone(),
            None => {
                jobs.insert(
                    job.id.clone(),
                    Entry {
                        job: job.clone(),
                        owner: None,
                        lease_until_ms: 0,
                    },
                );
            }
        }
        Ok(())
    }

    fn put_held(&self, job: &Job, owner: &str) -> Result<bool, StoreError> {
        let mut jobs = self.lock()?;
        match jobs.get_mut(&job.id) {
            Some(e)
                if e.owner.as_deref() == Some(owner) && e.job.status != JobStatus::Cancelled =>
            {
                e.job = job.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        Ok(self.lock()?.get(id).map(|e| e.job.clone()))
    }

    fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let mut all: Vec<Job> = self
            .lock()?
            .values()
            .map(|e| &e.job)
            .filter(|j| filter.matches(j))
            .cloned()
            .collect();
        all.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then(b.id.cmp(&a.id)));
        Ok(all
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit)
            .collect())
    }

    fn changed_since(&self, updated_after_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError> {
        let mut changed: Vec<Job> = self
            .lock()?
            .values()
            .filter(|e| e.job.updated_at_ms > updated_after_ms)
            .map(|e| e.job.clone())
            .collect();
        changed.sort_by(|a, b| a.updated_at_ms.cmp(&b.updated_at_ms).then(a.id.cmp(&b.id)));
        changed.truncate(limit);
        Ok(changed)
    }

    fn facets(&self) -> Result<Facets, StoreError> {
        let jobs = self.lock()?;
        let mut backends = std::collections::BTreeSet::new();
        let mut models = std::collections::BTreeSet::new();
        let mut statuses = Vec::new();
        // Per batch: its jobs and its newest job's time, for the order.
        let mut batches: HashMap<String, (u64, u64)> = HashMap::new();
        for j in jobs.values().map(|e| &e.job) {
            backends.insert(j.backend.clone());
            models.extend(j.request.model.iter().cloned());
            models.extend(j.request.workflow.iter().cloned());
            if !statuses.contains(&j.status) {
                statuses.push(j.status);
            }
            if let Some(key) = j.batch_key() {
                let b = batches.entry(key.to_string()).or_default();
                b.0 += 1;
                b.1 = b.1.max(j.created_at_ms);
            }
        }
        let mut batches: Vec<(String, (u64, u64))> = batches.into_iter().collect();
        batches.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
        batches.truncate(MAX_FACET_BATCHES);
        statuses.sort_by_key(|s| s.as_str());
        Ok(Facets {
            backends: backends.into_iter().collect(),
            models: models.into_iter().collect(),
            batches: batches.into_iter().map(|(k, (n, _))| (k, n)).collect(),
            statuses,
        })
    }

    fn lease_holders(&self) -> Result<Vec<String>, StoreError> {
        let mut owners: Vec<String> = self
            .lock()?
            .values()
            .filter(|e| e.job.finished_at_ms.is_none())
            .filter_map(|e| e.owner.clone())
            .collect();
        owners.sort();
        owners.dedup();
        Ok(owners)
    }

    fn claim_unfinished(
        &self,
        owner: &str,
        now_ms: u64,
        lease_until_ms: u64,
        vacated: &[String],
    ) -> Result<Vec<Job>, StoreError> {
        let mut jobs = self.lock()?;
        let mut claimed = Vec::new();
        for e in jobs.values_mut() {
            let free = match &e.owner {
                None => true,
                Some(held) => e.lease_until_ms < now_ms || vacated.contains(held),
            };
            if e.job.finished_at_ms.is_none() && free {
                e.owner = Some(owner.to_string());
                e.lease_until_ms = lease_until_ms;
                claimed.push(e.job.clone());
            }
        }
        Ok(claimed)
    }

    fn reopen(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<bool, StoreError> {
        let mut jobs = self.lock()?;
        match jobs.get_mut(&job.id) {
            Some(e) if e.job.finished_at_ms.is_some() => {
                *e = Entry {
                    job: job.clone(),
                    owner: Some(owner.to_string()),
                    lease_until_ms,
                };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn renew(&self, owner: &str, lease_until_ms: u64) -> Result<Vec<String>, StoreError> {
        let mut held = Vec::new();
        for e in self.lock()?.values_mut() {
            if e.owner.as_deref() == Some(owner) && e.job.finished_at_ms.is_none() {
                e.lease_until_ms = lease_until_ms;
                held.push(e.job.id.clone());
            }
        }
        Ok(held)
    }

    fn prune(&self, finished_before_ms: u64) -> Result<usize, StoreError> {
        let mut jobs = self.lock()?;
        let before = jobs.len();
        jobs.retain(|_, e| e.job.finished_at_ms.is_none_or(|t| t >= finished_before_ms));
        Ok(before - jobs.len())
    }

    fn record_note(&self, note: &NoteRecord) -> Result<(), StoreError> {
        let mut notes = self
            .notes
            .lock()
            .map_err(|_| StoreError("in-memory store poisoned by an earlier panic".into()))?;
        match notes.iter_mut().find(|n| n.id == note.id) {
            Some(n) => *n = note.clone(),
            None => notes.push(note.clone()),
        }
        Ok(())
    }

    fn list_notes(&self, limit: usize) -> Result<Vec<NoteRecord>, StoreError> {
        let notes = self
            .notes
            .lock()
            .map_err(|_| StoreError("in-memory store poisoned by an earlier panic".into()))?;
        let mut all = notes.clone();
        all.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then(b.id.cmp(&a.id)));
        all.truncate(limit);
        Ok(all)
    }

    fn get_note(&self, id: &str) -> Result<Option<NoteRecord>, StoreError> {
        let notes = self
            .notes
            .lock()
            .map_err(|_| StoreError("in-memory store poisoned by an earlier panic".into()))?;
        Ok(notes.iter().find(|n| n.id == id).cloned())
    }

    fn find_by_key(&self, key: &str) -> Result<Option<Job>, StoreError> {
        Ok(self
            .lock()?
            .values()
            .find(|e| e.job.idempotency_key.as_deref() == Some(key))
            .map(|e| e.job.clone()))
    }

    fn put_batch(&self, batch: &BatchRecord) -> Result<(), StoreError> {
        let mut all = self
            .batches
            .lock()
            .map_err(|_| StoreError("in-memory store poisoned by an earlier panic".into()))?;
        let mut next = batch.clone();
        if let Some(old) = all.get(&batch.id) {
            next.created_at_ms = old.created_at_ms;
            next.cancelled |= old.cancelled;
            if next.result.is_none() {
                next.result = old.result.clone();
            }
        }
        all.insert(batch.id.clone(), next);
        Ok(())
    }

    fn get_batch(&self, id: &str) -> Result<Option<BatchRecord>, StoreError> {
        let all = self
            .batches
            .lock()
            .map_err(|_| StoreError("in-memory store poisoned by an earlier panic".into()))?;
        Ok(all.get(id).cloned())
    }

    fn list_batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        let all = self
            .batches
            .lock()
            .map_err(|_| StoreError("in-memory store poisoned by an earlier panic".into()))?;
        let mut all: Vec<BatchRecord> = all.values().cloned().collect();
        all.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    fn import_job(&self, job: &Job) -> Result<bool, StoreError> {
        let mut jobs = self.lock()?;
        if jobs.contains_key(&job.id) {
            return Ok(false);
        }
        jobs.insert(
            job.id.clone(),
            Entry {
                job: job.clone(),
                owner: None,
                lease_until_ms: 0,
            },
        );
        Ok(true)
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        "this easel's in-memory job store (kept only while it runs)".into()
    }
}
