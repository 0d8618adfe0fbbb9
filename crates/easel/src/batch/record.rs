//! A batch as the job store keeps it (for MCP tasks): what was asked, and where it stands
//! read back from the jobs its lines became, by any easel sharing the store.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::parse::{BadLine, Line};
use super::run::{BatchState, LineStatus, apply_job, initial, line_key};
use crate::jobs::{JobStore, StoreError};

/// Everything needed to run the batch again (which pays for nothing twice) or to read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchSpec {
    pub lines: Vec<Line>,
    pub bad: Vec<BadLine>,
    pub defaults: Map<String, Value>,
    pub concurrency: usize,
}

impl BatchSpec {
    /// The batch as its lines' jobs stand in the store; `done` when every line has a
    /// finished job or failed before getting one. Lines without a job are pending.
    pub fn state(&self, key: &str, store: &dyn JobStore) -> Result<BatchState, StoreError> {
        let mut lines = initial(&self.lines, &self.bad);
        for line in &self.lines {
            let Some(job) = store.find_by_key(&line_key(key, line, &self.defaults))? else {
                continue;
            };
            if let Some(r) = lines.iter_mut().find(|r| r.line == line.number) {
                apply_job(r, &job);
            }
        }
        let done = lines
            .iter()
            .all(|l| !matches!(l.status, LineStatus::Pending | LineStatus::Running));
        Ok(BatchState {
            batch_key: key.to_string(),
            lines,
            done,
        })
    }
}
