//! The PostgreSQL schema, versioned: `easel_schema` holds how many migrations ran. Every
//! easel applies the missing ones at start, one replica at a time (an advisory lock), and
//! refuses to run against a schema newer than it knows (a newer replica migrated it).

use postgres::Client;

/// Migrations in order; `easel_schema.version` counts how many have run.
const MIGRATIONS: &[&str] = &[r#"
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
"#];

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
