//! The durable job store: one SQLite file in easel's data dir (bundled SQLite, WAL mode,
//! schema versioned through `PRAGMA user_version`). Several easel processes may share it
//! (one per MCP client): each unfinished job is leased by the process that runs it, and
//! only a job whose lease ran out is resumed by another.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::{Job, JobStatus};
use super::store::{Inserted, JobFilter, JobStore, StoreError};

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
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// Start-up errors worded for the person who has to fix them.
fn open_error(path: &Path, e: &rusqlite::Error) -> StoreError {
    let text = e.to_string();
    let advice = if text.contains("not a database") || text.contains("malformed") {
        "it is not a readable SQLite database (damaged, or another file). Move it aside (for example rename it to jobs.db.broken) and start easel again; saved images are not affected"
    } else if text.contains("locked") || text.contains("busy") {
        "another process holds it locked. Close other programs using it, or give this easel its own EASEL_DATA_DIR"
    } else if text.contains("unable to open")
        || text.contains("readonly")
        || text.contains("permission")
    {
        "it cannot be opened for writing. Check the folder's permissions or set EASEL_DATA_DIR to a writable folder"
    } else {
        "set EASEL_DATA_DIR to another folder if this persists"
    };
    StoreError(format!("job store {}: {text}: {advice}", path.display()))
}

fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("cannot encode job: {e}")))
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
    })
}

const COLUMNS: &str = "id, backend, status, request, output_spec, ticket, progress, images, failures, error, idempotency_key, created_at_ms, updated_at_ms, finished_at_ms, warnings";

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
        Self::prepare(&conn).map_err(|e| open_error(path, &e))?;
        migrate(&conn).map_err(|e| match e {
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
        conn.busy_timeout(Duration::from_secs(2))?;
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
}

enum Migration {
    Sql(rusqlite::Error),
    TooNew(i64),
}

fn migrate(conn: &Connection) -> Result<(), Migration> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(Migration::Sql)?;
    if version as usize > MIGRATIONS.len() {
        return Err(Migration::TooNew(version));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.unchecked_transaction().map_err(Migration::Sql)?;
        tx.execute_batch(sql).map_err(Migration::Sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(Migration::Sql)?;
        tx.commit().map_err(Migration::Sql)?;
    }
    Ok(())
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl JobStore for SqliteStore {
    fn insert(&self, job: &Job, owner: &str, lease_until_ms: u64) -> Result<Inserted, StoreError> {
        let conn = self.lock()?;
        let tx = conn.unchecked_transaction().map_err(sql_err)?;
        if let Some(key) = &job.idempotency_key {
            let existing = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM jobs WHERE idempotency_key = ?1"),
                    [key],
                    row_to_job,
                )
                .optional()
                .map_err(sql_err)?;
            if let Some(existing) = existing {
                return Ok(Inserted::Existing(Box::new(existing)));
            }
        }
        write(&tx, job)?;
        tx.execute(
            "UPDATE jobs SET owner = ?2, lease_until_ms = ?3 WHERE id = ?1",
            params![job.id, owner, lease_until_ms as i64],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        Ok(Inserted::New)
    }

    fn put(&self, job: &Job) -> Result<(), StoreError> {
        let conn = self.lock()?;
        write(&conn, job)
    }

    fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let conn = self.lock()?;
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
            [id],
            row_to_job,
        )
        .optional()
        .map_err(sql_err)
    }

    fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs
                 WHERE (?1 IS NULL OR status = ?1) AND created_at_ms >= ?2
                 ORDER BY created_at_ms DESC, id DESC LIMIT ?3 OFFSET ?4"
            ))
            .map_err(sql_err)?;
        let status = filter.status.map(JobStatus::as_str);
        let rows = stmt
            .query_map(
                params![
                    status,
                    filter.since_ms as i64,
                    filter.limit as i64,
                    filter.offset as i64
                ],
                row_to_job,
            )
            .map_err(sql_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
    }

    fn claim_unfinished(
        &self,
        owner: &str,
        now_ms: u64,
        lease_until_ms: u64,
    ) -> Result<Vec<Job>, StoreError> {
        let conn = self.lock()?;
        let tx = conn.unchecked_transaction().map_err(sql_err)?;
        let claimed = {
            let mut stmt = tx
                .prepare(&format!(
                    "UPDATE jobs SET owner = ?1, lease_until_ms = ?3
                     WHERE finished_at_ms IS NULL AND (owner IS NULL OR lease_until_ms < ?2)
                     RETURNING {COLUMNS}"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(
                    params![owner, now_ms as i64, lease_until_ms as i64],
                    row_to_job,
                )
                .map_err(sql_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)?
        };
        tx.commit().map_err(sql_err)?;
        Ok(claimed)
    }

    fn renew(&self, owner: &str, lease_until_ms: u64) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE jobs SET lease_until_ms = ?2 WHERE owner = ?1 AND finished_at_ms IS NULL",
            params![owner, lease_until_ms as i64],
        )
        .map_err(sql_err)?;
        Ok(())
    }

    fn prune(&self, finished_before_ms: u64) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "DELETE FROM jobs WHERE finished_at_ms IS NOT NULL AND finished_at_ms < ?1",
            [finished_before_ms as i64],
        )
        .map_err(sql_err)
    }

    fn record_note(&self, note: &super::notes::NoteRecord) -> Result<(), StoreError> {
        super::notes::put(&*self.lock()?, note)
    }

    fn list_notes(&self, limit: usize) -> Result<Vec<super::notes::NoteRecord>, StoreError> {
        super::notes::list(&*self.lock()?, limit)
    }
}

fn write(conn: &Connection, job: &Job) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO jobs (id, kind, backend, status, request, output_spec, ticket, progress, images, failures, error, idempotency_key, created_at_ms, updated_at_ms, finished_at_ms, warnings)
         VALUES (?1, ?16, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT(id) DO UPDATE SET status = ?3, ticket = ?6, progress = ?7, images = ?8, failures = ?9, error = ?10, updated_at_ms = ?13, finished_at_ms = ?14, warnings = ?15",
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
        ],
    )
    .map_err(sql_err)?;
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
}
