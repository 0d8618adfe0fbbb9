//! Published notes: what was sent to which publisher, and what came back. Kept in the job
//! store beside the jobs whose images they carry, so "did this post?" has an answer after
//! the conversation (or the process) is gone. A note is recorded as `pending` before it is
//! sent, so a crash mid-publish leaves a visible trace instead of nothing.

use rusqlite::{Connection, Row, params};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sqlite::sql_err;
use super::store::StoreError;

/// How a publish ended, as far as easel can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteOutcome {
    /// Recorded, being sent (or easel stopped while sending).
    Pending,
    /// The service confirmed it (xiaohongshu: `status` "发布完成"; webhook: 2xx; draft: written).
    Published,
    /// The service answered success without confirming: check the account before retrying.
    Unconfirmed,
    /// The service said it did not publish.
    Failed,
    /// No answer came (time-out or broken connection): it may or may not have posted.
    Unknown,
}

impl NoteOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteOutcome::Pending => "pending",
            NoteOutcome::Published => "published",
            NoteOutcome::Unconfirmed => "unconfirmed",
            NoteOutcome::Failed => "failed",
            NoteOutcome::Unknown => "unknown",
        }
    }
}

/// What was asked: the note as sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NoteContent {
    pub title: String,
    pub content: String,
    pub tags: Vec<String>,
    /// Absolute local paths (or URLs) as sent.
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
}

/// One publish attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NoteRecord {
    pub id: String,
    pub publisher: String,
    /// xiaohongshu, webhook or draft.
    pub kind: String,
    pub outcome: NoteOutcome,
    pub note: NoteContent,
    /// One line on the outcome.
    pub message: String,
    /// The service's answer (its JSON body, or text), or the draft folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<serde_json::Value>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// The table, created by migration 3 of the SQLite store.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE notes (
    id            TEXT PRIMARY KEY,
    publisher     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    note          TEXT NOT NULL,
    message       TEXT NOT NULL,
    answer        TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX notes_by_time ON notes (created_at_ms DESC);
"#;

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError(format!("cannot encode note: {e}"))
}

/// Inserts or replaces `note` (same id: the outcome of an earlier pending record).
pub(super) fn put(conn: &Connection, note: &NoteRecord) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO notes (id, publisher, kind, outcome, note, message, answer, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(id) DO UPDATE SET outcome = ?4, message = ?6, answer = ?7, updated_at_ms = ?9",
        params![
            note.id,
            note.publisher,
            note.kind,
            note.outcome.as_str(),
            serde_json::to_string(&note.note).map_err(json_err)?,
            note.message,
            note.answer
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(json_err)?,
            note.created_at_ms as i64,
            note.updated_at_ms as i64,
        ],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("{what}: {e}").into(),
        )
    })
}

fn row(r: &Row<'_>) -> rusqlite::Result<NoteRecord> {
    Ok(NoteRecord {
        id: r.get(0)?,
        publisher: r.get(1)?,
        kind: r.get(2)?,
        outcome: decode(&format!("\"{}\"", r.get::<_, String>(3)?), "outcome")?,
        note: decode(&r.get::<_, String>(4)?, "note")?,
        message: r.get(5)?,
        answer: r
            .get::<_, Option<String>>(6)?
            .map(|a| decode(&a, "answer"))
            .transpose()?,
        created_at_ms: r.get::<_, i64>(7)? as u64,
        updated_at_ms: r.get::<_, i64>(8)? as u64,
    })
}

/// Newest first.
pub(super) fn list(conn: &Connection, limit: usize) -> Result<Vec<NoteRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, publisher, kind, outcome, note, message, answer, created_at_ms, updated_at_ms
             FROM notes ORDER BY created_at_ms DESC, id DESC LIMIT ?1",
        )
        .map_err(sql_err)?;
    let rows = stmt.query_map([limit as i64], row).map_err(sql_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
}

/// The note with record id `id`.
pub(super) fn get(conn: &Connection, id: &str) -> Result<Option<NoteRecord>, StoreError> {
    use rusqlite::OptionalExtension;
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, publisher, kind, outcome, note, message, answer, created_at_ms, updated_at_ms
             FROM notes WHERE id = ?1",
        )
        .map_err(sql_err)?;
    stmt.query_row([id], row).optional().map_err(sql_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobStore, MemoryStore};

    fn record(id: &str, at: u64) -> NoteRecord {
        NoteRecord {
            id: id.into(),
            publisher: "main".into(),
            kind: "xiaohongshu".into(),
            outcome: NoteOutcome::Pending,
            note: NoteContent {
                title: "标题".into(),
                content: "正文".into(),
                tags: vec!["咖啡".into()],
                images: vec!["/out/a.png".into()],
                schedule_at: None,
                visibility: Some("仅自己可见".into()),
            },
            message: "being sent".into(),
            answer: None,
            created_at_ms: at,
            updated_at_ms: at,
        }
    }

    fn round_trip(store: &dyn JobStore) {
        store.record_note(&record("a", 1)).expect("a");
        store.record_note(&record("b", 2)).expect("b");
        let mut done = record("a", 1);
        done.outcome = NoteOutcome::Unconfirmed;
        done.answer = Some(serde_json::json!({"success": true, "data": {}}));
        done.updated_at_ms = 3;
        store.record_note(&done).expect("outcome");
        let all = store.list_notes(10).expect("list");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, "b", "newest first");
        assert_eq!(all[1], done);
        assert_eq!(store.list_notes(1).expect("one").len(), 1);
        assert_eq!(store.get_note("a").expect("get"), Some(done));
        assert_eq!(store.get_note("nope").expect("get"), None);
    }

    #[test]
    fn notes_are_kept_and_their_outcome_replaced() {
        round_trip(&MemoryStore::default());
        for home in crate::jobs::store_tests::Home::all() {
            round_trip(&*home.open());
        }
    }
}
