//! The durable job store: one SQLite file in easel's data dir (bundled SQLite, WAL mode,
//! schema versioned through `PRAGMA user_version`). Several easel processes may share it
//! (one per MCP client): each unfinished job is leased by the process that runs it, and
//! only a job whose lease ran out is resumed by another.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior,
    params,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::busy::{BUSY_TIMEOUT, retrying};
use super::model::{Job, JobStatus};
use rusqlite::types::Value;

use super::query::Param;
use super::store::{Facets, Inserted, JobFilter, JobStore, MAX_FACET_BATCHES, StoreError};

/// Migrations in order; `user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    backend         TEXT NOT NULL,
    status          TEXT NOT NULL,
    request         TEXT NOT NULL,
    output_spec     TEXT NOT NULL,
    ticket          TEXT,
    progress        TEXT NOT NULL,
    images          TEXT NOT NULL,
    failures        TEXT NOT NULL,
    error           TEXT,
    idempotency_key TEXT UNIQUE,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    finished_at_ms  INTEGER,
    owner           TEXT,
    lease_until_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_time ON jobs (created_at_ms DESC);
CREATE INDEX jobs_unfinished ON jobs (status) WHERE finished_at_ms IS NULL;
"#,
    r#"
ALTER TABLE jobs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
"#,
    super::notes::MIGRATION,
    r#"
ALTER TABLE jobs ADD COLUMN pending_files TEXT NOT NULL DEFAULT '[]';
"#,
    super::batches::MIGRATION,
    // The gallery's filters and paging: the request fields they compare, copied out of the
    // JSON into plain columns (written by `write`, filled for older rows by `backfill`),
    // each with an index in the listing order so a page reads only its rows.
    r#"
ALTER TABLE jobs ADD COLUMN model TEXT;
ALTER TABLE jobs ADD COLUMN workflow TEXT;
ALTER TABLE jobs ADD COLUMN batch_key TEXT;
ALTER TABLE jobs ADD COLUMN prompt_lower TEXT NOT NULL DEFAULT '';
DROP INDEX jobs_by_time;
CREATE INDEX jobs_page ON jobs (created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_status ON jobs (status, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_backend ON jobs (backend, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_model ON jobs (model, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_workflow ON jobs (workflow, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_batch ON jobs (batch_key, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_update ON jobs (updated_at_ms);
"#,
];

/// The migration (1-based version) after which `backfill` fills the copied columns.
const FILTER_COLUMNS_VERSION: usize = 6;

/// Copies the filtered request fields of rows stored before they had columns. In Rust, not
/// SQL: the prompt is lowercased as queries are (Unicode, which SQLite's `lower` is not),
/// and the batch key is parsed as `Job::batch_key` parses it.
fn backfill(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let rows: Vec<(String, String, Option<String>)> = {
        let mut stmt = tx.prepare("SELECT id, request, idempotency_key FROM jobs")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut update = tx.prepare(
        "UPDATE jobs SET model = ?2, workflow = ?3, batch_key = ?4, prompt_lower = ?5 WHERE id = ?1",
    )?;
    for (id, request, key) in rows {
        let request: crate::request::GenerateRequest = from_json(&request, "request")?;
        update.execute(params![
            id,
            request.model,
            request.workflow,
            key.as_deref().and_then(super::model::batch_key_of),
            request.prompt.to_lowercase(),
        ])?;
    }
    Ok(())
}

pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const DAMAGED: &str = "it is not a readable SQLite database (damaged, or another file). Move it aside (for example rename it to jobs.db.broken) and start easel again; saved images are not affected";

/// Start-up errors worded for the person who has to fix them, told apart by SQLite's code.
fn open_error(path: &Path, e: &rusqlite::Error) -> StoreError {
    let advice = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => DAMAGED,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "another process holds it locked. Close other programs using it, or give this easel its own EASEL_DATA_DIR"
        }
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            "it cannot be opened for writing. Check the folder's permissions or set EASEL_DATA_DIR to a writable folder"
        }
        _ => "set EASEL_DATA_DIR to another folder if this persists",
    };
    StoreError(format!("job store {}: {e}: {advice}", path.display()))
}

/// Encodes a column; a failure is reported like any other failed statement.
fn to_json<T: Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("{what}: {e}").into(),
        )
    })
}

fn row_to_job(row: &Row<'_>) -> rusqlite::Result<Job> {
    let opt = |i: usize| row.get::<_, Option<String>>(i);
    Ok(Job {
        id: row.get(0)?,
        backend: row.get(1)?,
        status: from_json(&format!("\"{}\"", row.get::<_, String>(2)?), "status")?,
        request: from_json(&row.get::<_, String>(3)?, "request")?,
        output: from_json(&row.get::<_, String>(4)?, "output_spec")?,
        ticket: opt(5)?.map(|t| from_json(&t, "ticket")).transpose()?,
        progress: from_json(&row.get::<_, String>(6)?, "progress")?,
        images: from_json(&row.get::<_, String>(7)?, "images")?,
        failures: from_json(&row.get::<_, String>(8)?, "failures")?,
        error: opt(9)?.map(|t| from_json(&t, "error")).transpose()?,
        idempotency_key: row.get(10)?,
        created_at_ms: row.get::<_, i64>(11)? as u64,
        updated_at_ms: row.get::<_, i64>(12)? as u64,
        finished_at_ms: row.get::<_, Option<i64>>(13)?.map(|v| v as u64),
        warnings: from_json(&row.get::<_, String>(14)?, "warnings")?,
        pending_files: from_json(&row.get::<_, String>(15)?, "pending_files")?,
    })
}

const COLUMNS: &str = "id, backend, status, request, output_spec, ticket, progress, images, failures, error, idempotency_key, created_at_ms, updated_at_ms, finished_at_ms, warnings, pending_files";

impl SqliteStore {
    /// Opens (creating if needed) `path`, migrating the schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError(format!(
                    "cannot create the data folder {}: {e}. Set EASEL_DATA_DIR to a writable folder",
                    dir.display()
                ))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| open_error(path, &e))?;
        Self::open_connection(conn, path)
    }

    /// Opens a store that must already exist, for commands that read a store someone names
    /// (`easel store migrate --from`): never creates a file or folder, and refuses a file
    /// that is not an easel job store rather than writing easel's tables into it. The
    /// error says what the file is; the caller says which setting named it and what to do.
    pub fn open_existing(path: &Path) -> Result<SqliteStore, StoreError> {
        let refuse = |why: String| StoreError(format!("{}: {why}", path.display()));
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(refuse("it is not a file".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refuse("there is no such file".into()));
            }
            Err(e) => return Err(refuse(format!("it cannot be read: {e}"))),
        }
        // Without SQLITE_OPEN_CREATE: a file removed since the check is an error, not a
        // new empty store.
        let flags = OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE);
        let not_a_store = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => {
                refuse(format!("it is not an easel job store (SQLite: {e})"))
            }
            _ => open_error(path, &e),
        };
        let conn = Connection::open_with_flags(path, flags).map_err(not_a_store)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(not_a_store)?;
        // Every store has run at least its first migration; version 0 is an empty file or
        // someone else's database.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(not_a_store)?;
        if version == 0 {
            return Err(refuse(
                "it is not an easel job store (no easel tables in it)".into(),
            ));
        }
        Self::open_connection(conn, path)
    }

    /// Checks and migrates a store's freshly opened connection.
    fn open_connection(mut conn: Connection, path: &Path) -> Result<SqliteStore, StoreError> {
        Self::prepare(&conn).map_err(|e| open_error(path, &e))?;
        check(&conn).map_err(|e| match e {
            Check::Sql(e) => open_error(path, &e),
            Check::Damaged(found) => StoreError(format!(
                "job store {}: its integrity check found damage ({found}): {DAMAGED}",
                path.display()
            )),
        })?;
        migrate(&mut conn).map_err(|e| match e {
            Migration::Sql(e) => open_error(path, &e),
            Migration::TooNew(v) => StoreError(format!(
                "job store {}: its schema version {v} is newer than this easel knows ({}); upgrade easel or use another EASEL_DATA_DIR",
                path.display(),
                MIGRATIONS.len()
            )),
        })?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn prepare(conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Reading the header here turns a damaged or foreign file into an error at start-up.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError("job store connection poisoned by an earlier panic".into()))
    }

    /// Runs `op` on the connection, again while another process holds the file locked.
    fn with<T>(&self, op: impl Fn(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.lock()?;
        retrying(|| op(&conn)).map_err(sql_err)
    }

    /// Runs `op` in a transaction that holds the write lock from its start (so a read
    /// followed by a write is never refused half way), committing when `op` succeeds.
    fn write_tx<T>(
        &self,
        op: impl Fn(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock()?;
        retrying(|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = op(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .map_err(sql_err)
    }
}

enum Check {
    Sql(rusqlite::Error),
    Damaged(String),
}

/// Reads every page of the store once (`PRAGMA quick_check`: b-tree structure, no index
/// cross-check), so a file damaged past its first page stops start-up here instead of
/// failing jobs later. Linear in the size of the store, which pruning keeps small; see
/// the figures in `a_store_damaged_past_its_first_page_is_refused_at_open`.
fn check(conn: &Connection) -> Result<(), Check> {
    let mut stmt = conn.prepare("PRAGMA quick_check(3)").map_err(Check::Sql)?;
    let found = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(Check::Sql)?;
    if found.len() == 1 && found[0] == "ok" {
        Ok(())
    } else {
        Err(Check::Damaged(found.join("; ")))
    }
}

enum Migration {
    Sql(rusqlite::Error),
    TooNew(i64),
}

/// Brings the schema up to date in one write transaction that reads the version itself, so
/// two easels starting together on a new data dir do not both run a migration.
fn migrate(conn: &mut Connection) -> Result<(), Migration> {
    let read_version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get(0));
    let version: i64 = read_version(conn).map_err(Migration::Sql)?;
    if version as usize > MIGRATIONS.len() {
        return Err(Migration::TooNew(version));
    }
    if version as usize == MIGRATIONS.len() {
        return Ok(());
    }
    retrying(|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = read_version(&tx)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            if i + 1 == FILTER_COLUMNS_VERSION {
                backfill(&tx)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()
    })
    .map_err(Migration::Sql)
}

/// A failed statement as a store error. What needs a decision is decided on the error's
/// code before this (busy.rs retries `SQLITE_BUSY`/`SQLITE_LOCKED`, `open_error` advises on
/// the open codes); what is left is reported as SQLite words it.
pub(super) fn sql_err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl JobStore for SqliteStore {
    fn insert(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<Inserted, StoreError> {
        self.write_tx(|tx| {
            if let Some(key) = &job.idempotency_key {
                let existing = tx
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM jobs WHERE idempotency_key = ?1"),
                        [key],
                        row_to_job,
                    )
                    .optional()?;
                if let Some(existing) = existing {
                    return Ok(Inserted::Existing(Box::new(existing)));
                }
            }
            write(tx, job)?;
            tx.execute(
                "UPDATE jobs SET owner = ?2, lease_until_ms = ?3 WHERE id = ?1",
                params![job.id, owner, lease_until_ms as i64],
            )?;
            Ok(Inserted::New)
        })
    }

    fn put(&self, job: &Job) -> Result<(), StoreError> {
        self.with(|conn| write(conn, job))
    }

    fn put_held(&self, job: &Job, owner: &str) -> Result<bool, StoreError> {
        self.write_tx(|tx| {
            let held: Option<(Option<String>, String)> = tx
                .query_row(
                    "SELECT owner, status FROM jobs WHERE id = ?1",
                    [&job.id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match held {
                Some((Some(held), status))
                    if held == owner && status != JobStatus::Cancelled.as_str() => {}
                _ => return Ok(false),
            }
            write(tx, job)?;
            Ok(true)
        })
    }

    fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.with(|conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
                [id],
                row_to_job,
            )
            .optional()
        })
    }

    fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let (conditions, values) = sqlite_conditions(filter);
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE {conditions}
             ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?"
        );
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut values = values.clone();
            values.push(Value::Integer(filter.limit as i64));
            values.push(Value::Integer(filter.offset as i64));
            let rows = stmt.query_map(rusqlite::params_from_iter(values), row_to_job)?;
            rows.collect()
        })
    }

    fn changed_since(&self, updated_after_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE updated_at_ms > ?1
                 ORDER BY updated_at_ms, id LIMIT ?2"
            ))?;
            let rows =
                stmt.query_map(params![updated_after_ms as i64, limit as i64], row_to_job)?;
            rows.collect()
        })
    }

    fn facets(&self) -> Result<Facets, StoreError> {
        self.with(|conn| {
            let strings = |sql: &str| -> rusqlite::Result<Vec<String>> {
                let mut stmt = conn.prepare_cached(sql)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect()
            };
            let backends = strings("SELECT DISTINCT backend FROM jobs ORDER BY backend")?;
            let models = strings(
                "SELECT model FROM jobs WHERE model IS NOT NULL
                 UNION SELECT workflow FROM jobs WHERE workflow IS NOT NULL ORDER BY 1",
            )?;
            let statuses = strings("SELECT DISTINCT status FROM jobs ORDER BY status")?
                .into_iter()
                .filter_map(|s| from_json::<JobStatus>(&format!("\"{s}\""), "status").ok())
                .collect();
            let mut stmt = conn.prepare_cached(
                "SELECT batch_key, COUNT(*) FROM jobs WHERE batch_key IS NOT NULL
                 GROUP BY batch_key ORDER BY MAX(created_at_ms) DESC, batch_key LIMIT ?1",
            )?;
            let batches = stmt
                .query_map([MAX_FACET_BATCHES as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Facets {
                backends,
                models,
                batches,
                statuses,
            })
        })
    }

    fn lease_holders(&self) -> Result<Vec<String>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT owner FROM jobs WHERE finished_at_ms IS NULL AND owner IS NOT NULL ORDER BY owner",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn claim_unfinished(
        &self,
        owner: &str,
        now_ms: u64,
        lease_until_ms: u64,
        vacated: &[String],
    ) -> Result<Vec<Job>, StoreError> {
        // The owners arrive as one JSON array, so the statement has a fixed shape.
        let vacated = to_json(&vacated).map_err(sql_err)?;
        self.write_tx(|tx| {
            let mut stmt = tx.prepare(&format!(
                "UPDATE jobs SET owner = ?1, lease_until_ms = ?3
                 WHERE finished_at_ms IS NULL
                   AND (owner IS NULL OR lease_until_ms < ?2
                        OR owner IN (SELECT value FROM json_each(?4)))
                 RETURNING {COLUMNS}"
            ))?;
            let rows = stmt.query_map(
                params![owner, now_ms as i64, lease_until_ms as i64, vacated],
                row_to_job,
            )?;
            rows.collect()
        })
    }

    fn reopen(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<bool, StoreError> {
        self.write_tx(|tx| {
            let finished: Option<Option<i64>> = tx
                .query_row(
                    "SELECT finished_at_ms FROM jobs WHERE id = ?1",
                    [&job.id],
                    |r| r.get(0),
                )
                .optional()?;
            if !matches!(finished, Some(Some(_))) {
                return Ok(false);
            }
            write(tx, job)?;
            tx.execute(
                "UPDATE jobs SET owner = ?2, lease_until_ms = ?3 WHERE id = ?1",
                params![job.id, owner, lease_until_ms as i64],
            )?;
            Ok(true)
        })
    }

    fn renew(&self, owner: &str, lease_until_ms: u64) -> Result<Vec<String>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "UPDATE jobs SET lease_until_ms = ?2 WHERE owner = ?1 AND finished_at_ms IS NULL RETURNING id",
            )?;
            let rows = stmt.query_map(params![owner, lease_until_ms as i64], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn prune(&self, finished_before_ms: u64) -> Result<usize, StoreError> {
        self.with(|conn| {
            conn.execute(
                "DELETE FROM jobs WHERE finished_at_ms IS NOT NULL AND finished_at_ms < ?1",
                [finished_before_ms as i64],
            )
        })
    }

    fn record_note(&self, note: &super::notes::NoteRecord) -> Result<(), StoreError> {
        super::notes::put(&*self.lock()?, note)
    }

    fn list_notes(&self, limit: usize) -> Result<Vec<super::notes::NoteRecord>, StoreError> {
        super::notes::list(&*self.lock()?, limit)
    }

    fn get_note(&self, id: &str) -> Result<Option<super::notes::NoteRecord>, StoreError> {
        super::notes::get(&*self.lock()?, id)
    }

    fn find_by_key(&self, key: &str) -> Result<Option<Job>, StoreError> {
        self.with(|conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE idempotency_key = ?1"),
                [key],
                row_to_job,
            )
            .optional()
        })
    }

    fn put_batch(&self, batch: &super::batches::BatchRecord) -> Result<(), StoreError> {
        super::batches::put(&*self.lock()?, batch)
    }

    fn get_batch(&self, id: &str) -> Result<Option<super::batches::BatchRecord>, StoreError> {
        super::batches::get(&*self.lock()?, id)
    }

    fn list_batches(&self) -> Result<Vec<super::batches::BatchRecord>, StoreError> {
        super::batches::list(&*self.lock()?)
    }

    fn import_job(&self, job: &Job) -> Result<bool, StoreError> {
        self.write_tx(|tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM jobs WHERE id = ?1", [&job.id], |r| r.get(0))
                .optional()?;
            if exists.is_some() {
                return Ok(false);
            }
            write(tx, job)?;
            Ok(true)
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        format!("the job store {}", self.path.display())
    }
}

/// A listing's WHERE clause (see [`super::query`]) with SQLite's values.
fn sqlite_conditions(filter: &JobFilter) -> (String, Vec<Value>) {
    let (sql, params) = super::query::conditions(filter);
    let values = params
        .into_iter()
        .map(|p| match p {
            Param::Int(i) => Value::Integer(i),
            Param::Text(t) => Value::Text(t),
        })
        .collect();
    (sql, values)
}

fn write(conn: &Connection, job: &Job) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO jobs (id, kind, backend, status, request, output_spec, ticket, progress, images, failures, error, idempotency_key, created_at_ms, updated_at_ms, finished_at_ms, warnings, pending_files, model, workflow, batch_key, prompt_lower)
         VALUES (?1, ?16, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?17, ?18, ?19, ?20, ?21)
         ON CONFLICT(id) DO UPDATE SET status = ?3, ticket = ?6, progress = ?7, images = ?8, failures = ?9, error = ?10, updated_at_ms = ?13, finished_at_ms = ?14, warnings = ?15, pending_files = ?17",
        params![
            job.id,
            job.backend,
            job.status.as_str(),
            to_json(&job.request)?,
            to_json(&job.output)?,
            job.ticket.as_ref().map(to_json).transpose()?,
            to_json(&job.progress)?,
            to_json(&job.images)?,
            to_json(&job.failures)?,
            job.error.as_ref().map(to_json).transpose()?,
            job.idempotency_key,
            job.created_at_ms as i64,
            job.updated_at_ms as i64,
            job.finished_at_ms.map(|v| v as i64),
            to_json(&job.warnings)?,
            if job.request.is_edit() { "edit" } else { "generate" },
            to_json(&job.pending_files)?,
            job.request.model,
            job.request.workflow,
            job.batch_key(),
            job.request.prompt.to_lowercase(),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_one_store_migrates_and_keeps_its_jobs() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("jobs.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[0]).expect("v1 schema");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
            conn.execute(
                "INSERT INTO jobs (id, kind, backend, status, request, output_spec, progress, images, failures, created_at_ms, updated_at_ms, finished_at_ms)
                 VALUES ('old', 'generate', 'modelscope', 'succeeded',
                         '{\"prompt\":\"p\",\"model\":\"Qwen/Qwen-Image\",\"size\":{\"width\":64,\"height\":64},\"seed\":1,\"count\":1}',
                         '{\"dir\":null,\"stem\":null,\"format\":\"original\"}', '{\"fraction\":1.0,\"message\":\"done\"}', '[]', '[]', 1, 2, 3)",
                [],
            )
            .expect("v1 row");
        }
        let store = SqliteStore::open(&path).expect("migrates");
        let job = store.get("old").expect("read").expect("kept");
        assert!(job.warnings.is_empty());
        assert_eq!(job.request.model.as_deref(), Some("Qwen/Qwen-Image"));
        let version: i64 = store
            .lock()
            .expect("lock")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_version_five_store_gets_its_filter_columns_filled() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("jobs.db");
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[..5] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.pragma_update(None, "user_version", 5)
                .expect("version");
            conn.execute(
                "INSERT INTO jobs (id, kind, backend, status, request, output_spec, progress, images, failures, idempotency_key, created_at_ms, updated_at_ms)
                 VALUES ('old', 'generate', 'comfyui', 'succeeded',
                         '{\"prompt\":\"Ein GROẞER Kater\",\"workflow\":\"txt2img\",\"size\":{\"width\":64,\"height\":64},\"seed\":1,\"count\":1}',
                         '{\"dir\":null,\"stem\":null,\"format\":\"original\"}', '{\"fraction\":1.0,\"message\":\"done\"}', '[]', '[]',
                         'batch:night:shift:3:00ff00ff00ff00ff', 1, 2)",
                [],
            )
            .expect("old row");
        }
        let store = SqliteStore::open(&path).expect("migrates");
        let found = |filter: JobFilter| ids(&store.list(&filter).expect("list"));
        assert_eq!(
            found(JobFilter {
                text: Some("großer kater".into()),
                ..JobFilter::default()
            }),
            ["old"]
        );
        assert_eq!(
            found(JobFilter {
                batch: Some("night:shift".into()),
                ..JobFilter::default()
            }),
            ["old"]
        );
        assert_eq!(
            found(JobFilter {
                model: Some("txt2img".into()),
                ..JobFilter::default()
            }),
            ["old"]
        );
    }

    fn ids(jobs: &[Job]) -> Vec<String> {
        jobs.iter().map(|j| j.id.clone()).collect()
    }

    /// A page reads its rows in index order: no full scan, no sort of the whole table, with
    /// or without a filter, on the first page and after a cursor.
    #[test]
    fn listing_pages_walk_an_index_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&dir.path().join("jobs.db")).expect("open");
        let conn = store.lock().expect("lock");
        let filters = [
            JobFilter::default(),
            JobFilter {
                before: Some((5, "x".into())),
                ..JobFilter::default()
            },
            JobFilter {
                status: Some(JobStatus::Failed),
                ..JobFilter::default()
            },
            JobFilter {
                backend: Some("comfyui".into()),
                before: Some((5, "x".into())),
                ..JobFilter::default()
            },
            JobFilter {
                batch: Some("b".into()),
                ..JobFilter::default()
            },
            JobFilter {
                text: Some("cat".into()),
                ..JobFilter::default()
            },
        ];
        for filter in filters {
            let (conditions, mut values) = sqlite_conditions(&filter);
            values.push(Value::Integer(40));
            values.push(Value::Integer(0));
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM jobs WHERE {conditions} ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?"
            );
            let mut stmt = conn.prepare(&sql).expect("prepare");
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(values), |r| {
                    r.get::<_, String>(3)
                })
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            let plan = plan.join(" | ");
            assert!(plan.contains("USING INDEX"), "{filter:?}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
        }
    }

    fn job(id: &str, key: Option<&str>) -> Job {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "id": id, "backend": "modelscope",
            "request": {"prompt": "a golden cat in a garden at dusk, oil painting, warm light", "model": "Qwen/Qwen-Image", "size": {"width": 1024, "height": 1024}, "seed": 42, "count": 1},
            "output": {"dir": "cats/2026", "stem": null, "format": "original"},
            "status": "queued", "progress": {"fraction": 0.0, "message": "queued"},
            "ticket": null, "images": [], "failures": [], "error": null,
            "idempotency_key": null, "created_at_ms": 1, "updated_at_ms": 1, "finished_at_ms": null
        }))
        .expect("job");
        job.idempotency_key = key.map(str::to_string);
        job
    }

    /// Also the figure for the cost of the check at open: 10,000 jobs.
    #[test]
    fn a_store_damaged_past_its_first_page_is_refused_at_open() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("jobs.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            let mut conn = store.lock().expect("lock");
            let tx = conn.transaction().expect("tx");
            for i in 0..10_000 {
                let mut j = job(&format!("{i:032}"), Some(&format!("key-{i}")));
                j.created_at_ms = i;
                write(&tx, &j).expect("write");
            }
            tx.commit().expect("commit");
        }
        let size = std::fs::metadata(&path).expect("size").len();
        let started = std::time::Instant::now();
        SqliteStore::open(&path).expect("a sound store opens");
        eprintln!(
            "open with quick_check: {} jobs, {} KiB, {:.1} ms",
            10_000,
            size / 1024,
            started.elapsed().as_secs_f64() * 1e3
        );
        // Overwrite a page in the middle (the header page stays intact).
        let mut bytes = std::fs::read(&path).expect("read");
        let page = 4096;
        let middle = (bytes.len() / page / 2) * page;
        bytes[middle..middle + page].fill(0x5a);
        std::fs::write(&path, &bytes).expect("damage");
        let err = SqliteStore::open(&path).err().expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("not a readable SQLite database") && text.contains("Move it aside"),
            "{text}"
        );
    }

    #[test]
    fn a_store_from_a_newer_easel_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("jobs.db");
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("version");
        drop(conn);
        let err = SqliteStore::open(&path).err().expect("refused");
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn open_existing_never_creates_a_store_and_refuses_what_is_not_one() {
        let dir = tempfile::tempdir().expect("dir");
        let refused = |path: &Path| {
            SqliteStore::open_existing(path)
                .err()
                .expect("refused")
                .to_string()
        };
        let missing = dir.path().join("nested/jobs.db");
        assert!(refused(&missing).contains("no such file"));
        assert!(!missing.exists() && !dir.path().join("nested").exists());
        assert!(refused(dir.path()).contains("not a file"));
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, "").expect("empty");
        assert!(refused(&empty).contains("not an easel job store"));
        assert_eq!(
            std::fs::metadata(&empty).expect("kept").len(),
            0,
            "untouched"
        );
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, vec![b'x'; 8192]).expect("text");
        assert!(refused(&text).contains("not an easel job store"));
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .expect("open")
            .execute_batch("CREATE TABLE t (x)")
            .expect("table");
        assert!(refused(&foreign).contains("no easel tables"));
        let real = dir.path().join("jobs.db");
        drop(SqliteStore::open(&real).expect("create"));
        SqliteStore::open_existing(&real).expect("a store opens");
    }
}
