//! What publishing a checked note would do, in words for the person who decides: the
//! question `publish_note` asks, and the gallery's publish preview.

use crate::config::{PublisherKind, PublisherSettings};

use super::CheckedNote;

/// The note as the question shows it: where it goes and what the public will see.
pub fn describe_note(c: &CheckedNote) -> String {
    let visibility = match c.note.visibility.as_deref() {
        None => "公开可见 (public, the default)".to_string(),
        Some(v) => v.to_string(),
    };
    let when = c
        .note
        .schedule_at
        .as_deref()
        .map_or("now".to_string(), |s| format!("scheduled for {s}"));
    format!(
        "publish_note would publish a note {}:\n- title: {:?}\n- images: {}\n- visibility: {visibility}\n- when: {when}\n{}",
        destination(&c.publisher),
        c.note.title,
        c.images.len(),
        consequence(&c.publisher),
    )
}

/// What cannot be undone. A draft (the gallery's preview shows drafts too) is a local folder:
/// telling its user the note goes public would be false.
fn consequence(p: &PublisherSettings) -> &'static str {
    match p.kind() {
        PublisherKind::Draft => "A draft is only written to that folder: nothing is posted.",
        PublisherKind::Xiaohongshu | PublisherKind::Webhook => {
            "A published note is public and easel cannot take it back."
        }
    }
}

/// The publisher by name and kind; never its URL, which may carry a secret (webhooks).
fn destination(p: &PublisherSettings) -> String {
    match p.kind() {
        PublisherKind::Xiaohongshu => format!(
            "to the Xiaohongshu account of publisher {:?} (through xiaohongshu-mcp)",
            p.name
        ),
        PublisherKind::Webhook => format!("to the webhook of publisher {:?}", p.name),
        PublisherKind::Draft => format!("to the draft folder of publisher {:?}", p.name),
    }
}
