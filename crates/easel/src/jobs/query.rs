//! The conditions of a job listing, as plain SQL with `?` placeholders and their values in
//! order: row values, `IN`, `LIKE … ESCAPE`, which SQLite and PostgreSQL both run (the
//! PostgreSQL store numbers the placeholders). One piece of code, so the two stores cannot
//! disagree on what a filter means.

use super::store::JobFilter;

/// A value bound to a placeholder.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Param {
    Int(i64),
    Text(String),
}

/// The WHERE clause of a listing (`1 = 1` when nothing is asked) and its values in order:
/// plain SQL (row values, `IN`, `LIKE … ESCAPE`) that PostgreSQL runs as well.
pub(super) fn conditions(filter: &JobFilter) -> (String, Vec<Param>) {
    let mut parts: Vec<String> = vec!["1 = 1".into()];
    let mut values: Vec<Param> = Vec::new();
    let text = |s: &str| Param::Text(s.to_string());
    if let Some(s) = filter.status {
        parts.push("status = ?".into());
        values.push(text(s.as_str()));
    }
    if !filter.statuses.is_empty() {
        let marks = vec!["?"; filter.statuses.len()].join(", ");
        parts.push(format!("status IN ({marks})"));
        values.extend(filter.statuses.iter().map(|s| text(s.as_str())));
    }
    if filter.since_ms > 0 {
        parts.push("created_at_ms >= ?".into());
        // Clamped like `until`: a bare cast of a bound past i64 wraps negative, and every
        // job would pass `created_at_ms >= -1`.
        values.push(Param::Int(filter.since_ms.min(i64::MAX as u64) as i64));
    }
    if let Some(until) = filter.until_ms {
        parts.push("created_at_ms < ?".into());
        values.push(Param::Int(until.min(i64::MAX as u64) as i64));
    }
    if let Some(b) = &filter.backend {
        parts.push("backend = ?".into());
        values.push(text(b));
    }
    if let Some(m) = &filter.model {
        parts.push("(model = ? OR workflow = ?)".into());
        values.push(text(m));
        values.push(text(m));
    }
    if let Some(b) = &filter.batch {
        parts.push("batch_key = ?".into());
        values.push(text(b));
    }
    if let Some(t) = filter.text_lower() {
        parts.push("prompt_lower LIKE ? ESCAPE '\\'".into());
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        values.push(Param::Text(format!("%{escaped}%")));
    }
    if let Some((at, id)) = &filter.before {
        parts.push("(created_at_ms, id) < (?, ?)".into());
        values.push(Param::Int((*at).min(i64::MAX as u64) as i64));
        values.push(text(id));
    }
    (parts.join(" AND "), values)
}
