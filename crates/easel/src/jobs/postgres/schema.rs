//! The PostgreSQL schema, versioned: `easel_schema` holds how many migrations ran. Every
//! easel applies the missing ones at start, one replica at a time (an advisory lock), and
//! refuses to run against a schema newer than it knows (a newer replica migrated it).

use postgres::Client;

/// Migrations in order; `easel_schema.version` counts how many have run.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    backend         TEXT NOT NULL,
    status          TEXT NOT NULL,
    model           TEXT,
    workflow        TEXT,
    batch_key       TEXT,
    prompt_lower    TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL,
    finished_at_ms  BIGINT,
    owner           TEXT,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0,
    job             JSONB NOT NULL
);
CREATE INDEX jobs_page ON jobs (created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_status ON jobs (status, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_backend ON jobs (backend, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_model ON jobs (model, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_workflow ON jobs (workflow, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_batch ON jobs (batch_key, created_at_ms DESC, id DESC);
CREATE INDEX jobs_by_update ON jobs (updated_at_ms);
CREATE INDEX jobs_unfinished ON jobs (owner, lease_until_ms) WHERE finished_at_ms IS NULL;

CREATE TABLE notes (
    id            TEXT PRIMARY KEY,
    publisher     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    note          JSONB NOT NULL,
    message       TEXT NOT NULL,
    answer        JSONB,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX notes_by_time ON notes (created_at_ms DESC, id DESC);

CREATE TABLE batches (
    id            TEXT PRIMARY KEY,
    batch_key     TEXT NOT NULL,
    spec          JSONB NOT NULL,
    cancelled     BOOLEAN NOT NULL DEFAULT FALSE,
    result        JSONB,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Every replica LISTENs on easel_jobs: a job's new state wakes whoever waits for it, on
-- any replica, at commit (not at the next poll). Lease renewals (owner, lease_until_ms)
-- are not changes anybody waits for, so only writes of the job itself notify.
CREATE FUNCTION easel_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('easel_jobs', NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE OF job ON jobs
    FOR EACH ROW EXECUTE FUNCTION easel_job_changed();
"#,
    // JSON as text, not JSONB: JSONB cannot hold the character U+0000, which a service's
    // answer may carry (an error message, a rewritten prompt) and a job keeps (SQLite
    // does); text holds it escaped, and reads back exactly what was written. The trigger
    // names the column, so it is made again around the change.
    r#"
DROP TRIGGER jobs_changed ON jobs;
ALTER TABLE jobs ALTER COLUMN job TYPE TEXT USING job::text;
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE OF job ON jobs
    FOR EACH ROW EXECUTE FUNCTION easel_job_changed();
ALTER TABLE notes ALTER COLUMN note TYPE TEXT USING note::text,
    ALTER COLUMN answer TYPE TEXT USING answer::text;
ALTER TABLE batches ALTER COLUMN spec TYPE TEXT USING spec::text,
    ALTER COLUMN result TYPE TEXT USING result::text;
"#,
    // The notification carries the written state's update time beside the id, so that the
    // replica that wrote it knows its own write and does not read the row back.
    r#"
CREATE OR REPLACE FUNCTION easel_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('easel_jobs', NEW.id || ' ' || NEW.updated_at_ms);
    RETURN NULL;
END $$;
"#,
];

/// The channel the trigger notifies on.
pub(crate) const CHANNEL: &str = "easel_jobs";

/// Taken while migrating, so that replicas starting together migrate once.
const MIGRATION_LOCK: i64 = 0x6561_7365_6c00; // "easel\0"

pub(crate) enum Outcome {
    Ok,
    TooNew { found: i64, known: usize },
}

/// Applies the missing migrations in one transaction.
pub(crate) fn migrate(client: &mut Client) -> Result<Outcome, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS easel_schema (version INTEGER NOT NULL)")?;
    let found: Option<i32> = tx
        .query_opt("SELECT version FROM easel_schema", &[])?
        .map(|r| r.get(0));
    let version = match found {
        Some(v) => i64::from(v),
        None => {
            tx.execute("INSERT INTO easel_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    if version > MIGRATIONS.len() as i64 {
        return Ok(Outcome::TooNew {
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)?;
        tx.execute("UPDATE easel_schema SET version = $1", &[&((i + 1) as i32)])?;
    }
    tx.commit()?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::jobs::{JobStore, PgStore};

    /// A database made by the first version (JSONB columns) keeps every row through the
    /// change to text, and the trigger that wakes other replicas still fires.
    #[test]
    fn a_version_one_database_keeps_its_rows_and_wakes_replicas_after_the_upgrade() {
        let Some(url) = crate::jobs::pg_test_database() else {
            return;
        };
        let job: crate::jobs::Job = serde_json::from_value(serde_json::json!({
            "id": "old", "backend": "modelscope",
            "request": {"prompt": "a cat", "model": "Qwen/Qwen-Image",
                        "size": {"width": 64, "height": 64}, "seed": 1, "count": 1},
            "output": {"dir": null, "stem": null, "format": "original"},
            "status": "running", "progress": {"fraction": 0.5, "message": "half"},
            "ticket": {"task_id": "t"}, "images": [], "failures": [], "error": null,
            "idempotency_key": "k", "created_at_ms": 1, "updated_at_ms": 2, "finished_at_ms": null
        }))
        .expect("job");
        let text = serde_json::to_string(&job).expect("json");
        let mut client: postgres::Client = url
            .parse::<postgres::Config>()
            .expect("url")
            .connect(postgres::NoTls)
            .expect("connect");
        client.batch_execute(MIGRATIONS[0]).expect("version 1");
        client
            .batch_execute(
                "CREATE TABLE easel_schema (version INTEGER NOT NULL);
                 INSERT INTO easel_schema (version) VALUES (1);
                 INSERT INTO notes VALUES ('n', 'p', 'webhook', 'published', '{\"title\":\"t\",\"content\":\"c\",\"tags\":[],\"images\":[]}', 'ok', NULL, 1, 1);
                 INSERT INTO batches VALUES ('batch:b', 'b', '{\"lines\":[1]}', FALSE, '{\"done\":true}', 1, 1);",
            )
            .expect("old rows");
        client
            .execute(
                "INSERT INTO jobs (id, backend, status, prompt_lower, idempotency_key, created_at_ms, updated_at_ms, job, owner, lease_until_ms)
                 VALUES ('old', 'modelscope', 'running', 'a cat', 'k', 1, 2, $1::text::jsonb, 'gone', 5)",
                &[&text],
            )
            .expect("old job");
        drop(client);
        let store = PgStore::open(&url).expect("upgrades");
        assert_eq!(store.get("old").expect("get"), Some(job.clone()));
        let batch = store.get_batch("batch:b").expect("batch").expect("kept");
        assert_eq!(batch.result, Some(serde_json::json!({"done": true})));
        assert_eq!(
            store.get_note("n").expect("note").expect("kept").note.title,
            "t"
        );
        // Listening before the write, as another replica does.
        let mut listener: postgres::Client = url
            .parse::<postgres::Config>()
            .expect("url")
            .connect(postgres::NoTls)
            .expect("connect");
        listener
            .batch_execute(&format!("LISTEN {}", super::CHANNEL))
            .expect("listen");
        let mut done = job.clone();
        done.status = crate::jobs::JobStatus::Succeeded;
        done.finished_at_ms = Some(3);
        store.put(&done).expect("put");
        use postgres::fallible_iterator::FallibleIterator;
        let notified = listener
            .notifications()
            .timeout_iter(std::time::Duration::from_secs(10))
            .next()
            .expect("notifications")
            .map(|n| n.payload().to_string());
        assert_eq!(
            notified.as_deref(),
            Some(format!("old {}", done.updated_at_ms).as_str())
        );
    }
}
