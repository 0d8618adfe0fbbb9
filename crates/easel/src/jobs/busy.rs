//! Sharing one SQLite file between easel processes: how long to wait for another writer,
//! and when to try a whole transaction again.
//!
//! SQLite waits (the busy timeout) when a statement needs a lock someone holds, except where
//! waiting could deadlock: a transaction that read first and then wants to write after
//! another process wrote in between gets `SQLITE_BUSY` at once. Write transactions therefore
//! begin `IMMEDIATE` (taking the write lock before reading), and whatever still comes back
//! busy or locked is tried again from the start, a bounded number of times. Errors are told
//! apart by their SQLite code, never by their English text.

use std::time::Duration;

use rusqlite::ErrorCode;

/// How long one statement waits for another process's write to end.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a whole operation is started again after SQLite still answered busy.
const RETRIES: u32 = 6;

/// Whether SQLite refused because another connection holds a lock (worth trying again).
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Runs `op`, starting it again while SQLite answers busy or locked. `op` must be a whole
/// transaction (or one statement), so a retry repeats nothing half done.
pub(super) fn retrying<T>(mut op: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut attempt = 0;
    loop {
        match op() {
            Err(e) if is_busy(&e) && attempt < RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "job store busy; trying again");
                // A short, growing pause with jitter, so that processes that collided do
                // not collide again in lockstep.
                let base = 10u64 << attempt.min(6);
                let jitter = rand::random::<u64>() % base;
                std::thread::sleep(Duration::from_millis(base + jitter));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_are_told_by_code() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("some text".into()),
        );
        let locked = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_LOCKED),
            None,
        );
        // Worded like a lock, but it is not one.
        let other = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some("database is locked".into()),
        );
        assert!(is_busy(&busy) && is_busy(&locked));
        assert!(!is_busy(&other));
        let mut calls = 0;
        let answer = retrying(|| {
            calls += 1;
            if calls < 3 {
                Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    None,
                ))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(answer.expect("third time"), 3);
    }
}
