//! The job queue and the history, with the exact shapes and orders of contract 4 and 5.
//!
//! The pending queue is Python's `heapq` list, not a sorted list: `GET /queue` shows the
//! raw heap array (`[-100.0, -21, 19, 20]` in the capture), so the simulator keeps the
//! same array with the same sift rules. History is a dict in insertion order, capped at
//! 10,000 entries like the real one.

use std::cmp::Ordering;

use super::json::{Json, obj};

/// History entries kept; the oldest is dropped first (contract 5).
pub const MAX_HISTORY: usize = 10_000;

/// A queued or running job: the 5-element queue item of contract 4.
#[derive(Clone, Debug)]
pub struct Job {
    /// The priority as answered (`0`, `-21`, `-100.0`).
    pub number: Json,
    /// The job id.
    pub prompt_id: String,
    /// The validated (coerced) graph.
    pub graph: Json,
    /// `extra_data` with `client_id` and `create_time`.
    pub extra_data: Json,
    /// Output node ids to run.
    pub outputs: Vec<String>,
}

impl Job {
    /// `[number, prompt_id, graph, extra_data, outputs]`.
    pub fn item(&self) -> Json {
        Json::Array(vec![
            self.number.clone(),
            self.prompt_id.as_str().into(),
            self.graph.clone(),
            self.extra_data.clone(),
            Json::from(self.outputs.clone()),
        ])
    }

    /// The socket that gets this job's events; `None` when the job has no client
    /// (a `client_id` of `null` counts as none, as in Python).
    pub fn client_id(&self) -> Option<String> {
        match self.extra_data.get("client_id")? {
            Json::Null => None,
            other => Some(other.py_str()),
        }
    }

    /// Python compares queue tuples element by element: number, then prompt id.
    fn cmp_key(&self, other: &Job) -> Ordering {
        let number = |j: &Job| j.number.as_f64().unwrap_or(0.0);
        number(self)
            .total_cmp(&number(other))
            .then_with(|| self.prompt_id.cmp(&other.prompt_id))
    }
}

/// Python's `heapq` over a list of jobs.
#[derive(Debug, Default)]
pub struct Heap {
    items: Vec<Job>,
}

impl Heap {
    /// The raw heap array, as `GET /queue` shows it.
    pub fn items(&self) -> &[Job] {
        &self.items
    }

    /// Pending jobs.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `heapq.heappush`.
    pub fn push(&mut self, job: Job) {
        self.items.push(job);
        let last = self.items.len() - 1;
        self.sift_down(0, last);
    }

    /// `heapq.heappop`.
    pub fn pop(&mut self) -> Option<Job> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let first = std::mem::replace(&mut self.items[0], last);
        self.sift_up(0);
        Some(first)
    }

    /// `PromptQueue.delete_queue_item`: removes the first job with this id and
    /// re-heapifies. True if one was removed.
    pub fn remove(&mut self, prompt_id: &str) -> bool {
        let Some(at) = self.items.iter().position(|j| j.prompt_id == prompt_id) else {
            return false;
        };
        self.items.remove(at);
        for i in (0..self.items.len() / 2).rev() {
            self.sift_up(i);
        }
        true
    }

    /// `wipe_queue`.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    fn less(&self, a: usize, b: usize) -> bool {
        self.items[a].cmp_key(&self.items[b]) == Ordering::Less
    }

    /// `heapq._siftdown`: moves the item at `pos` up towards `start`.
    fn sift_down(&mut self, start: usize, mut pos: usize) {
        while pos > start {
            let parent = (pos - 1) / 2;
            if self.less(pos, parent) {
                self.items.swap(pos, parent);
                pos = parent;
            } else {
                break;
            }
        }
    }

    /// `heapq._siftup`: moves the smaller child up until a leaf, then sifts down.
    fn sift_up(&mut self, mut pos: usize) {
        let end = self.items.len();
        let start = pos;
        let mut child = 2 * pos + 1;
        while child < end {
            let right = child + 1;
            if right < end && !self.less(child, right) {
                child = right;
            }
            self.items.swap(pos, child);
            pos = child;
            child = 2 * pos + 1;
        }
        self.sift_down(start, pos);
    }
}

/// Finished jobs by id, oldest first.
#[derive(Debug, Default)]
pub struct History {
    entries: Vec<(String, Json)>,
}

impl History {
    /// `task_done`: drops the oldest entry past the cap, then adds (or replaces in
    /// place) this one.
    pub fn insert(&mut self, prompt_id: &str, entry: Json) {
        if let Some((_, slot)) = self.entries.iter_mut().find(|(id, _)| id == prompt_id) {
            *slot = entry;
            return;
        }
        if self.entries.len() > MAX_HISTORY {
            self.entries.remove(0);
        }
        self.entries.push((prompt_id.to_owned(), entry));
    }

    /// `GET /history/{id}`: `{id: entry}` or `{}`.
    pub fn one(&self, prompt_id: &str) -> Json {
        let mut out = Json::object();
        if let Some((id, entry)) = self.entries.iter().find(|(id, _)| id == prompt_id) {
            out.insert(id.clone(), entry.clone());
        }
        out
    }

    /// `GET /history?max_items=&offset=`, ported from `get_history` with its quirks
    /// (only `max_items` gives the newest N; `max_items=0` with an offset gives one).
    pub fn list(&self, max_items: Option<i64>, offset: Option<i64>) -> Json {
        let mut offset = offset.unwrap_or(-1);
        if offset < 0
            && let Some(max) = max_items
        {
            offset = self.entries.len() as i64 - max;
        }
        let mut out = Json::object();
        let mut taken = 0i64;
        for (i, (id, entry)) in self.entries.iter().enumerate() {
            if i as i64 >= offset {
                out.insert(id.clone(), entry.clone());
                taken += 1;
                if max_items.is_some_and(|max| taken >= max) {
                    break;
                }
            }
        }
        out
    }

    /// `POST /history {"delete": [...]}` for one id.
    pub fn delete(&mut self, prompt_id: &str) {
        self.entries.retain(|(id, _)| id != prompt_id);
    }

    /// `POST /history {"clear": true}`.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// A history entry: `{prompt, outputs, status, meta}` (contract 5).
pub fn entry(job: &Job, outputs: Json, status: Json, meta: Json) -> Json {
    obj! {"prompt" => job.item(), "outputs" => outputs, "status" => status, "meta" => meta}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(number: Json, id: &str) -> Job {
        Job {
            number,
            prompt_id: id.to_owned(),
            graph: Json::object(),
            extra_data: Json::object(),
            outputs: Vec::new(),
        }
    }

    fn numbers(heap: &Heap) -> String {
        Json::Array(heap.items().iter().map(|j| j.number.clone()).collect()).to_text()
    }

    #[test]
    fn heap_array_matches_the_capture() {
        let mut heap = Heap::default();
        heap.push(job(Json::from(19), "b"));
        heap.push(job(Json::from(20), "c"));
        heap.push(job(Json::from(-21), "d"));
        heap.push(job(Json::float(-100.0), "e"));
        assert_eq!(numbers(&heap), "[-100.0, -21, 19, 20]");
        assert!(heap.remove("c"));
        assert_eq!(numbers(&heap), "[-100.0, -21, 19]");
        let order: Vec<String> = std::iter::from_fn(|| heap.pop())
            .map(|j| j.prompt_id)
            .collect();
        assert_eq!(order, ["e", "d", "b"]);
    }

    #[test]
    fn history_lists_newest_n_oldest_first() {
        let mut history = History::default();
        for id in ["a", "b", "c"] {
            history.insert(id, Json::from(id));
        }
        assert_eq!(
            history.list(Some(2), None).to_text(),
            r#"{"b": "b", "c": "c"}"#
        );
        assert_eq!(
            history.list(None, Some(1)).to_text(),
            r#"{"b": "b", "c": "c"}"#
        );
        assert_eq!(history.list(Some(1), Some(0)).to_text(), r#"{"a": "a"}"#);
        history.delete("b");
        assert_eq!(
            history.list(None, None).to_text(),
            r#"{"a": "a", "c": "c"}"#
        );
    }
}
