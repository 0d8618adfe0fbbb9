//! The job store in PostgreSQL, for several easel replicas behind a load balancer
//! (DESIGN.md decision 10): the same `JobStore` contract as SQLite, passing the same tests.
//! Rows carry the job as JSON plus the columns that are filtered, ordered and leased on.
//! Leases are conditional updates (`FOR UPDATE SKIP LOCKED`), so exactly one replica claims a
//! job; the idempotency key is a unique column, so a key names one job across replicas; and a
//! trigger NOTIFYs every change, so a caller waiting on one replica learns at once what
//! another did (see `listen`).

mod listen;
mod pool;
#[cfg(test)]
mod pool_tests;
mod schema;
mod testing;
mod url;

use std::sync::Arc;

use postgres::Row;
use postgres::types::ToSql;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use super::batches::BatchRecord;
use super::model::{Job, JobStatus};
use super::notes::NoteRecord;
use super::query::{Param, conditions};
use super::store::{Changed, Facets, Inserted, JobFilter, JobStore, MAX_FACET_BATCHES, StoreError};

pub use testing::pg_test_database;

/// `url` as messages show it: without its password (or a note that it does not parse).
pub fn shown_database_url(url: &str) -> String {
    match url::Target::parse(url) {
        Ok(t) => t.shown().to_string(),
        Err(_) => "(set, but not a PostgreSQL URL)".to_string(),
    }
}

/// How long `open` waits for the listener to listen.
const LISTEN_READY: std::time::Duration = std::time::Duration::from_secs(5);

/// Changes a slow waiter may fall behind by (it then reads the store again).
const CHANGES: usize = 1024;

pub struct PgStore {
    pool: pool::Pool,
    changes: Arc<broadcast::Sender<Changed>>,
}

/// Encodes a JSON column.
fn json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError(format!("cannot encode for the job store: {e}")))
}

impl PgStore {
    /// Connects to `url`, applies the missing migrations and starts listening for changes.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let target = url::Target::parse(url)?;
        // Connections are made on the pool's threads, never on the caller's: `open` runs
        // inside easel's runtime, where the blocking client must not start its own.
        let pool = pool::Pool::new(target.clone())?;
        match pool.call(schema::migrate)? {
            schema::Outcome::Ok => {}
            schema::Outcome::TooNew { found, known } => {
                return Err(StoreError(format!(
                    "job store {} (PostgreSQL): its schema version {found} is newer than this easel knows ({known}); a newer easel migrated it. Upgrade this easel to the version the other replicas run",
                    target.shown()
                )));
            }
        }
        let changes = Arc::new(broadcast::channel(CHANGES).0);
        let (ready, listening) = std::sync::mpsc::channel();
        listen::spawn(target.clone(), Arc::downgrade(&changes), ready)
            .map_err(|e| target.error("starting its listener", &e))?;
        // Changes are told from the moment `open` returns; a listener that cannot connect
        // in time keeps trying, and waiters poll meanwhile.
        if listening.recv_timeout(LISTEN_READY).is_err() {
            tracing::warn!(
                store = target.shown(),
                "not yet listening to the job store's changes; waiters poll until it does"
            );
        }
        Ok(PgStore { pool, changes })
    }

    /// The URL without its password.
    pub fn shown_url(&self) -> &str {
        self.pool.target().shown()
    }

    fn decode<T: DeserializeOwned>(&self, text: &str, what: &str) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|e| {
            self.pool
                .target()
                .error(&format!("reading a stored {what}"), &e)
        })
    }

    fn jobs(&self, rows: Vec<String>) -> Result<Vec<Job>, StoreError> {
        rows.iter().map(|t| self.decode(t, "job")).collect()
    }

    fn one_job(&self, sql: &'static str, key: String) -> Result<Option<Job>, StoreError> {
        let text = self
            .pool
            .call(move |c| Ok(c.query_opt(sql, &[&key])?.map(|r| r.get::<_, String>(0))))?;
        text.map(|t| self.decode(&t, "job")).transpose()
    }
}

/// The values of a job's row, in the order of `WRITE`'s placeholders.
struct JobRow {
    id: String,
    backend: String,
    status: String,
    model: Option<String>,
    workflow: Option<String>,
    batch_key: Option<String>,
    prompt_lower: String,
    idempotency_key: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
    finished_at_ms: Option<i64>,
    job: String,
}

impl JobRow {
    fn of(job: &Job) -> Result<JobRow, StoreError> {
        Ok(JobRow {
            id: job.id.clone(),
            backend: job.backend.clone(),
            status: job.status.as_str().to_string(),
            model: job.request.model.clone(),
            workflow: job.request.workflow.clone(),
            batch_key: job.batch_key().map(str::to_string),
            prompt_lower: job.request.prompt.to_lowercase(),
            idempotency_key: job.idempotency_key.clone(),
            created_at_ms: ms(job.created_at_ms),
            updated_at_ms: ms(job.updated_at_ms),
            finished_at_ms: job.finished_at_ms.map(ms),
            job: json(job)?,
        })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 12] {
        [
            &self.id,
            &self.backend,
            &self.status,
            &self.model,
            &self.workflow,
            &self.batch_key,
            &self.prompt_lower,
            &self.idempotency_key,
            &self.created_at_ms,
            &self.updated_at_ms,
            &self.finished_at_ms,
            &self.job,
        ]
    }
}

/// Milliseconds as PostgreSQL's BIGINT (clamped: a time past i64 is not a real time).
fn ms(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

const INSERT: &str = "INSERT INTO jobs (id, backend, status, model, workflow, batch_key, prompt_lower, idempotency_key, created_at_ms, updated_at_ms, finished_at_ms, job, owner, lease_until_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// An upsert of the job's state; the lease columns are left as they are.
const PUT: &str = "INSERT INTO jobs (id, backend, status, model, workflow, batch_key, prompt_lower, idempotency_key, created_at_ms, updated_at_ms, finished_at_ms, job)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at_ms = EXCLUDED.updated_at_ms,
         finished_at_ms = EXCLUDED.finished_at_ms, job = EXCLUDED.job";

fn job_text(r: &Row) -> String {
    r.get(0)
}

/// `?` placeholders numbered for PostgreSQL, from `first`.
fn numbered(sql: &str, first: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = first;
    for ch in sql.chars() {
        if ch == '?' {
            out.push_str(&format!("${n}"));
            n += 1;
        } else {
            out.push(ch);
        }
    }
    out
}

impl Param {
    /// The value as the client binds it.
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Int(i) => i,
            Param::Text(t) => t,
        }
    }
}

impl JobStore for PgStore {
    fn insert(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<Inserted, StoreError> {
        let row = JobRow::of(job)?;
        let (owner, lease) = (owner.to_string(), ms(lease_until_ms));
        // ON CONFLICT DO NOTHING covers both the id and the idempotency key: when two
        // replicas insert the same key together, the unique index lets one in.
        let existing = self.pool.call(move |c| {
            let mut params: Vec<&(dyn ToSql + Sync)> = row.params().to_vec();
            params.push(&owner);
            params.push(&lease);
            let sql = format!("{INSERT} ON CONFLICT DO NOTHING RETURNING id");
            if c.query_opt(&sql, &params)?.is_some() {
                return Ok(None);
            }
            let by_key = match &row.idempotency_key {
                Some(key) => c
                    .query_opt("SELECT job FROM jobs WHERE idempotency_key = $1", &[key])?
                    .map(|r| job_text(&r)),
                None => None,
            };
            Ok(Some(by_key))
        })?;
        match existing {
            None => Ok(Inserted::New),
            Some(Some(text)) => Ok(Inserted::Existing(Box::new(self.decode(&text, "job")?))),
            Some(None) => Err(StoreError(format!(
                "job store {} (PostgreSQL): a job with id {} already exists",
                self.shown_url(),
                job.id
            ))),
        }
    }

    fn put(&self, job: &Job) -> Result<(), StoreError> {
        let row = JobRow::of(job)?;
        self.pool
            .call(move |c| c.execute(PUT, &row.params()).map(|_| ()))
    }

    fn put_held(&self, job: &Job, owner: &str) -> Result<bool, StoreError> {
        let row = JobRow::of(job)?;
        let owner = owner.to_string();
        self.pool.call(move |c| {
            let n = c.execute(
                "UPDATE jobs SET status = $2, updated_at_ms = $3, finished_at_ms = $4, job = $5
                 WHERE id = $1 AND owner = $6 AND status <> 'cancelled'",
                &[
                    &row.id,
                    &row.status,
                    &row.updated_at_ms,
                    &row.finished_at_ms,
                    &row.job,
                    &owner,
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.one_job("SELECT job FROM jobs WHERE id = $1", id.to_string())
    }

    fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let (where_, mut params) = conditions(filter);
        // No stored value holds a NUL (requests with one are refused), and PostgreSQL refuses
        // a NUL in a query's text: such a filter matches nothing, as it does in SQLite.
        if params
            .iter()
            .any(|p| matches!(p, Param::Text(t) if t.contains('\0')))
        {
            return Ok(Vec::new());
        }
        let n = params.len();
        let sql = format!(
            "SELECT job FROM jobs WHERE {} ORDER BY created_at_ms DESC, id DESC LIMIT ${} OFFSET ${}",
            numbered(&where_, 1),
            n + 1,
            n + 2
        );
        params.push(Param::Int(filter.limit.min(i64::MAX as usize) as i64));
        params.push(Param::Int(filter.offset.min(i64::MAX as usize) as i64));
        let rows = self.pool.call(move |c| {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
            Ok(c.query(&sql, &refs)?.iter().map(job_text).collect())
        })?;
        self.jobs(rows)
    }

    fn changed_since(&self, updated_after_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError> {
        let (after, limit) = (ms(updated_after_ms), limit.min(i64::MAX as usize) as i64);
        let rows = self.pool.call(move |c| {
            Ok(c.query(
                "SELECT job FROM jobs WHERE updated_at_ms > $1 ORDER BY updated_at_ms, id LIMIT $2",
                &[&after, &limit],
            )?
            .iter()
            .map(job_text)
            .collect())
        })?;
        self.jobs(rows)
    }

    fn facets(&self) -> Result<Facets, StoreError> {
        let (backends, models, statuses, batches) = self.pool.call(|c| {
            let strings =
                |c: &mut postgres::Client, sql: &str| -> Result<Vec<String>, postgres::Error> {
                    Ok(c.query(sql, &[])?.iter().map(|r| r.get(0)).collect())
                };
            let backends = strings(c, "SELECT DISTINCT backend FROM jobs ORDER BY backend")?;
            let models = strings(
                c,
                "SELECT model FROM jobs WHERE model IS NOT NULL
                 UNION SELECT workflow FROM jobs WHERE workflow IS NOT NULL ORDER BY 1",
            )?;
            let statuses = strings(c, "SELECT DISTINCT status FROM jobs ORDER BY status")?;
            let batches: Vec<(String, i64)> = c
                .query(
                    "SELECT batch_key, COUNT(*) FROM jobs WHERE batch_key IS NOT NULL
                     GROUP BY batch_key ORDER BY MAX(created_at_ms) DESC, batch_key LIMIT $1",
                    &[&(MAX_FACET_BATCHES as i64)],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            Ok((backends, models, statuses, batches))
        })?;
        Ok(Facets {
            backends,
            models,
            batches: batches
                .into_iter()
                .map(|(k, n)| (k, n.max(0) as u64))
                .collect(),
            statuses: statuses
                .iter()
                .filter_map(|s| {
                    serde_json::from_value::<JobStatus>(serde_json::Value::String(s.clone())).ok()
                })
                .collect(),
        })
    }

    fn lease_holders(&self) -> Result<Vec<String>, StoreError> {
        self.pool.call(|c| {
            Ok(c.query(
                "SELECT DISTINCT owner FROM jobs WHERE finished_at_ms IS NULL AND owner IS NOT NULL ORDER BY owner",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn claim_unfinished(
        &self,
        owner: &str,
        now_ms: u64,
        lease_until_ms: u64,
        vacated: &[String],
    ) -> Result<Vec<Job>, StoreError> {
        let (owner, now, until, vacated) = (
            owner.to_string(),
            ms(now_ms),
            ms(lease_until_ms),
            vacated.to_vec(),
        );
        // The rows are locked as they are picked, and rows another replica is claiming at the
        // same moment are skipped: each unfinished job goes to exactly one claimant. A row a
        // concurrent claim already committed is re-checked against its new lease, and drops out.
        let rows = self.pool.call(move |c| {
            Ok(c.query(
                "UPDATE jobs SET owner = $1, lease_until_ms = $3
                 WHERE id IN (
                     SELECT id FROM jobs
                     WHERE finished_at_ms IS NULL
                       AND (owner IS NULL OR lease_until_ms < $2 OR owner = ANY($4))
                     FOR UPDATE SKIP LOCKED)
                 RETURNING job",
                &[&owner, &now, &until, &vacated],
            )?
            .iter()
            .map(job_text)
            .collect())
        })?;
        self.jobs(rows)
    }

    fn reopen(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<bool, StoreError> {
        let row = JobRow::of(job)?;
        let (owner, lease) = (owner.to_string(), ms(lease_until_ms));
        self.pool.call(move |c| {
            let n = c.execute(
                "UPDATE jobs SET status = $2, updated_at_ms = $3, finished_at_ms = $4,
                     job = $5, owner = $6, lease_until_ms = $7
                 WHERE id = $1 AND finished_at_ms IS NOT NULL",
                &[
                    &row.id,
                    &row.status,
                    &row.updated_at_ms,
                    &row.finished_at_ms,
                    &row.job,
                    &owner,
                    &lease,
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn renew(&self, owner: &str, lease_until_ms: u64) -> Result<Vec<String>, StoreError> {
        let (owner, lease) = (owner.to_string(), ms(lease_until_ms));
        self.pool.call(move |c| {
            Ok(c.query(
                "UPDATE jobs SET lease_until_ms = $2 WHERE owner = $1 AND finished_at_ms IS NULL RETURNING id",
                &[&owner, &lease],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn prune(&self, finished_before_ms: u64) -> Result<usize, StoreError> {
        let before = ms(finished_before_ms);
        let n = self.pool.call(move |c| {
            c.execute(
                "DELETE FROM jobs WHERE finished_at_ms IS NOT NULL AND finished_at_ms < $1",
                &[&before],
            )
        })?;
        Ok(n as usize)
    }

    fn record_note(&self, note: &NoteRecord) -> Result<(), StoreError> {
        let (id, publisher, kind, outcome) = (
            note.id.clone(),
            note.publisher.clone(),
            note.kind.clone(),
            note.outcome.as_str().to_string(),
        );
        let (content, message) = (json(&note.note)?, note.message.clone());
        let answer = note.answer.as_ref().map(json).transpose()?;
        let (created, updated) = (ms(note.created_at_ms), ms(note.updated_at_ms));
        self.pool.call(move |c| {
            c.execute(
                "INSERT INTO notes (id, publisher, kind, outcome, note, message, answer, created_at_ms, updated_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (id) DO UPDATE SET outcome = EXCLUDED.outcome, message = EXCLUDED.message,
                     answer = EXCLUDED.answer, updated_at_ms = EXCLUDED.updated_at_ms",
                &[&id, &publisher, &kind, &outcome, &content, &message, &answer, &created, &updated],
            )
            .map(|_| ())
        })
    }

    fn list_notes(&self, limit: usize) -> Result<Vec<NoteRecord>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.pool.call(move |c| {
            Ok(c.query(
                &format!("{NOTE_SELECT} ORDER BY created_at_ms DESC, id DESC LIMIT $1"),
                &[&limit],
            )?
            .iter()
            .map(note_row)
            .collect::<Vec<_>>())
        })?;
        rows.into_iter().map(|r| self.note(r)).collect()
    }

    fn get_note(&self, id: &str) -> Result<Option<NoteRecord>, StoreError> {
        let id = id.to_string();
        let row = self.pool.call(move |c| {
            Ok(
                c.query_opt(&format!("{NOTE_SELECT} WHERE id = $1"), &[&id])?
                    .map(|r| note_row(&r)),
            )
        })?;
        row.map(|r| self.note(r)).transpose()
    }

    fn find_by_key(&self, key: &str) -> Result<Option<Job>, StoreError> {
        self.one_job(
            "SELECT job FROM jobs WHERE idempotency_key = $1",
            key.to_string(),
        )
    }

    fn put_batch(&self, batch: &BatchRecord) -> Result<(), StoreError> {
        let (id, key, spec, cancelled) = (
            batch.id.clone(),
            batch.batch_key.clone(),
            json(&batch.spec)?,
            batch.cancelled,
        );
        let result = batch.result.as_ref().map(json).transpose()?;
        let (created, updated) = (ms(batch.created_at_ms), ms(batch.updated_at_ms));
        // As SQLite's: a batch run again keeps its creation time, a cancellation and a result.
        self.pool.call(move |c| {
            c.execute(
                "INSERT INTO batches (id, batch_key, spec, cancelled, result, created_at_ms, updated_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec,
                     cancelled = batches.cancelled OR EXCLUDED.cancelled,
                     result = COALESCE(EXCLUDED.result, batches.result),
                     updated_at_ms = EXCLUDED.updated_at_ms",
                &[&id, &key, &spec, &cancelled, &result, &created, &updated],
            )
            .map(|_| ())
        })
    }

    fn get_batch(&self, id: &str) -> Result<Option<BatchRecord>, StoreError> {
        let id = id.to_string();
        let row = self.pool.call(move |c| {
            Ok(
                c.query_opt(&format!("{BATCH_SELECT} WHERE id = $1"), &[&id])?
                    .map(|r| batch_row(&r)),
            )
        })?;
        row.map(|r| self.batch(r)).transpose()
    }

    fn list_batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        let rows = self.pool.call(|c| {
            Ok(
                c.query(&format!("{BATCH_SELECT} ORDER BY created_at_ms, id"), &[])?
                    .iter()
                    .map(batch_row)
                    .collect::<Vec<_>>(),
            )
        })?;
        rows.into_iter().map(|r| self.batch(r)).collect()
    }

    fn import_job(&self, job: &Job) -> Result<bool, StoreError> {
        let row = JobRow::of(job)?;
        self.pool.call(move |c| {
            let mut params: Vec<&(dyn ToSql + Sync)> = row.params().to_vec();
            let (owner, lease): (Option<String>, i64) = (None, 0);
            params.push(&owner);
            params.push(&lease);
            let n = c.execute(&format!("{INSERT} ON CONFLICT DO NOTHING"), &params)?;
            Ok(n == 1)
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.pool.call(|c| c.simple_query("SELECT 1").map(|_| ()))
    }

    fn changes(&self) -> Option<broadcast::Receiver<Changed>> {
        Some(self.changes.subscribe())
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        format!("the job store {} (PostgreSQL)", self.shown_url())
    }
}

const NOTE_SELECT: &str = "SELECT id, publisher, kind, outcome, note::text, message, answer::text, created_at_ms, updated_at_ms FROM notes";
const BATCH_SELECT: &str = "SELECT id, batch_key, spec::text, cancelled, result::text, created_at_ms, updated_at_ms FROM batches";

/// A note's row, as read (decoded off the connection thread).
type NoteRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

fn note_row(r: &Row) -> NoteRow {
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
    )
}

type BatchRow = (String, String, String, bool, Option<String>, i64, i64);

fn batch_row(r: &Row) -> BatchRow {
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
    )
}

impl PgStore {
    fn note(&self, r: NoteRow) -> Result<NoteRecord, StoreError> {
        let (id, publisher, kind, outcome, note, message, answer, created, updated) = r;
        Ok(NoteRecord {
            id,
            publisher,
            kind,
            outcome: self.decode(&json(&outcome)?, "note outcome")?,
            note: self.decode(&note, "note")?,
            message,
            answer: answer.map(|a| self.decode(&a, "note answer")).transpose()?,
            created_at_ms: created.max(0) as u64,
            updated_at_ms: updated.max(0) as u64,
        })
    }

    fn batch(&self, r: BatchRow) -> Result<BatchRecord, StoreError> {
        let (id, batch_key, spec, cancelled, result, created, updated) = r;
        Ok(BatchRecord {
            id,
            batch_key,
            spec: self.decode(&spec, "batch")?,
            cancelled,
            result: result
                .map(|t| self.decode(&t, "batch result"))
                .transpose()?,
            created_at_ms: created.max(0) as u64,
            updated_at_ms: updated.max(0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("a = ? AND (b, c) < (?, ?)", 3),
            "a = $3 AND (b, c) < ($4, $5)"
        );
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// A superuser connection to a test database, off the runtime (there is none here).
    fn admin(url: &str) -> postgres::Client {
        url.parse::<postgres::Config>()
            .expect("url")
            .connect(postgres::NoTls)
            .expect("connect")
    }

    #[test]
    fn replicas_starting_together_migrate_once_and_a_newer_schema_is_refused() {
        let Some(url) = pg_test_database() else {
            return;
        };
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || PgStore::open(&url).map(|_| ()))
            })
            .collect();
        for o in opened {
            o.join().expect("thread").expect("every replica opens");
        }
        let version: i32 = admin(&url)
            .query_one("SELECT version FROM easel_schema", &[])
            .expect("version")
            .get(0);
        assert_eq!(version as usize, schema::MIGRATIONS.len());

        admin(&url)
            .execute("UPDATE easel_schema SET version = 999", &[])
            .expect("newer");
        let e = PgStore::open(&url).err().expect("refused");
        assert!(e.0.contains("schema version 999 is newer"), "{}", e.0);
        assert!(e.0.contains("Upgrade this easel"), "{}", e.0);
    }
}
