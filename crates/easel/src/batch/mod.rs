//! Batches: many prompts, each its own job, run with bounded concurrency. A line that fails
//! (unreadable, invalid, or failed at the backend) never stops the others, and the same
//! batch run again with the same key pays for nothing twice (each line's job carries a
//! stable idempotency key).

mod parse;
mod record;
pub mod run;

pub use parse::{BadLine, Line, is_json_lines, parse, parse_json_line};
pub use record::BatchSpec;
pub use run::{Batch, BatchState, LineResult, LineStatus, start};
