//! The job-store record of a publish: written as pending before sending, completed with the
//! outcome after.

use crate::clock::now_ms;
use crate::config::PublisherSettings;
use crate::jobs::{NoteContent, NoteOutcome, NoteRecord};

use super::Delivery;

pub fn pending(publisher: &PublisherSettings, note: &NoteContent) -> NoteRecord {
    let now = now_ms();
    NoteRecord {
        id: uuid::Uuid::new_v4().to_string(),
        publisher: publisher.name.clone(),
        kind: publisher.kind().as_str().to_string(),
        outcome: NoteOutcome::Pending,
        note: note.clone(),
        message: "being sent; if this stays pending, easel stopped while sending: check the account before sending again".into(),
        answer: None,
        created_at_ms: now,
        updated_at_ms: now,
    }
}

pub fn finished(mut record: NoteRecord, delivery: &Delivery) -> NoteRecord {
    record.outcome = delivery.outcome;
    record.message = delivery.summary.clone();
    record.answer = match (&delivery.answer, &delivery.location) {
        (Some(a), _) => Some(a.clone()),
        (None, Some(folder)) => Some(serde_json::json!({ "folder": folder })),
        (None, None) => None,
    };
    record.updated_at_ms = now_ms();
    record
}
