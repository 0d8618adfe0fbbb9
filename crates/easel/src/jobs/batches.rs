//! Batches run as MCP tasks: what was asked (the lines, shared defaults, concurrency) kept
//! in the job store beside the jobs the lines become, so that a batch's task can be read,
//! finished and cancelled by any easel sharing the data dir, after a restart too. The
//! lines' jobs are found by their idempotency keys; the record itself holds no results.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::sqlite::sql_err;
use super::store::StoreError;

/// One batch, as asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// The task id (`batch:` and the batch key).
    pub id: String,
    pub batch_key: String,
    /// The batch's lines and settings, as the batch module writes them.
    pub spec: serde_json::Value,
    /// Set by tasks/cancel: lines not yet submitted are not submitted.
    pub cancelled: bool,
    /// The batch's final state once every line ended: kept here so that the answer
    /// outlives its lines' jobs (pruning) and a finished batch is never run again.
    pub result: Option<serde_json::Value>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// The table, created by migration 5 of the SQLite store.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE batches (
    id            TEXT PRIMARY KEY,
    batch_key     TEXT NOT NULL,
    spec          TEXT NOT NULL,
    cancelled     INTEGER NOT NULL DEFAULT 0,
    result        TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
"#;

/// Inserts or replaces the batch (a batch run again with its key asks for its lines again;
/// it keeps its creation time, a cancellation and a final result).
pub(super) fn put(conn: &Connection, b: &BatchRecord) -> Result<(), StoreError> {
    let encode = |v: &serde_json::Value| {
        serde_json::to_string(v).map_err(|e| StoreError(format!("cannot encode batch: {e}")))
    };
    conn.execute(
        "INSERT INTO batches (id, batch_key, spec, cancelled, result, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(id) DO UPDATE SET spec = ?3, cancelled = MAX(cancelled, ?4),
             result = COALESCE(?5, result), updated_at_ms = ?7",
        params![
            b.id,
            b.batch_key,
            encode(&b.spec)?,
            b.cancelled,
            b.result.as_ref().map(encode).transpose()?,
            b.created_at_ms as i64,
            b.updated_at_ms as i64
        ],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn decode(i: usize, text: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn row(r: &Row<'_>) -> rusqlite::Result<BatchRecord> {
    Ok(BatchRecord {
        id: r.get(0)?,
        batch_key: r.get(1)?,
        spec: decode(2, &r.get::<_, String>(2)?)?,
        cancelled: r.get(3)?,
        result: r
            .get::<_, Option<String>>(4)?
            .map(|t| decode(4, &t))
            .transpose()?,
        created_at_ms: r.get::<_, i64>(5)? as u64,
        updated_at_ms: r.get::<_, i64>(6)? as u64,
    })
}

pub(super) fn get(conn: &Connection, id: &str) -> Result<Option<BatchRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, batch_key, spec, cancelled, result, created_at_ms, updated_at_ms
             FROM batches WHERE id = ?1",
        )
        .map_err(sql_err)?;
    stmt.query_row([id], row).optional().map_err(sql_err)
}

/// Every batch, oldest first.
pub(super) fn list(conn: &Connection) -> Result<Vec<BatchRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, batch_key, spec, cancelled, result, created_at_ms, updated_at_ms
             FROM batches ORDER BY created_at_ms, id",
        )
        .map_err(sql_err)?;
    let rows = stmt.query_map([], row).map_err(sql_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobStore, MemoryStore};

    fn round_trip(store: &dyn JobStore) {
        let mut b = BatchRecord {
            id: "batch:k".into(),
            batch_key: "k".into(),
            spec: serde_json::json!({"lines": [1, 2]}),
            cancelled: false,
            result: None,
            created_at_ms: 1,
            updated_at_ms: 1,
        };
        store.put_batch(&b).expect("put");
        assert_eq!(store.get_batch("batch:k").expect("get"), Some(b.clone()));
        b.cancelled = true;
        b.updated_at_ms = 2;
        store.put_batch(&b).expect("cancel");
        b.result = Some(serde_json::json!({"done": true}));
        store.put_batch(&b).expect("result");
        let mut again = b.clone();
        again.cancelled = false;
        again.result = None;
        again.created_at_ms = 3;
        again.updated_at_ms = 3;
        store.put_batch(&again).expect("again");
        let read = store.get_batch("batch:k").expect("get").expect("some");
        assert!(read.cancelled, "a cancellation is kept");
        assert_eq!(read.result, b.result, "a result is kept");
        assert_eq!(read.created_at_ms, 1, "the creation time is kept");
        assert_eq!(store.get_batch("nope").expect("get"), None);
    }

    #[test]
    fn batches_are_kept_and_a_cancellation_and_result_stick() {
        round_trip(&MemoryStore::default());
        for home in crate::jobs::store_tests::Home::all() {
            round_trip(&*home.open());
        }
    }
}
