//! A cap on jobs running at once per backend. Jobs beyond it wait in FIFO order (tokio's
//! semaphore is fair) and know their position in the line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

struct Lane {
    permits: Arc<Semaphore>,
    waiting: Mutex<Vec<String>>,
}

pub struct Slots {
    per_backend: usize,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

/// A job's place in a backend's line: call `positions` after it changes.
pub struct Waiting {
    lane: Arc<Lane>,
    id: String,
}

impl Slots {
    pub fn new(per_backend: usize) -> Slots {
        Slots {
            per_backend,
            lanes: Mutex::new(HashMap::new()),
        }
    }

    fn lane(&self, backend: &str) -> Arc<Lane> {
        let mut lanes = match self.lanes.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        lanes
            .entry(backend.to_string())
            .or_insert_with(|| {
                Arc::new(Lane {
                    permits: Arc::new(Semaphore::new(self.per_backend)),
                    waiting: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// Jobs waiting in all lines.
    pub fn waiting(&self) -> usize {
        let lanes = match self.lanes.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        lanes
            .values()
            .map(|l| l.waiting.lock().map_or(0, |w| w.len()))
            .sum()
    }

    /// A slot right away, or a place in line.
    pub fn try_take(&self, backend: &str, id: &str) -> Result<OwnedSemaphorePermit, Waiting> {
        let lane = self.lane(backend);
        match lane.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => {
                if let Ok(mut w) = lane.waiting.lock() {
                    w.push(id.to_string());
                }
                Err(Waiting {
                    lane,
                    id: id.to_string(),
                })
            }
        }
    }
}

impl Waiting {
    /// Waits for a slot, then leaves the line.
    pub async fn take(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.lane.permits.clone().acquire_owned().await.ok();
        self.leave();
        permit
    }

    /// Everyone in this line with their 1-based position.
    pub fn positions(&self) -> Vec<(String, u32)> {
        self.lane.waiting.lock().map_or(Vec::new(), |w| {
            w.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32 + 1))
                .collect()
        })
    }

    fn leave(&self) {
        if let Ok(mut w) = self.lane.waiting.lock() {
            w.retain(|id| *id != self.id);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.leave();
    }
}
