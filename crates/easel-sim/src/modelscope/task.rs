//! One simulated generation task and how its polls progress (contract 3.2, 12.7 to 12.9).
//!
//! A task is scripted when it is submitted: how long it takes, how many in-progress
//! answers it gives and how it ends. Polling then walks the script. Time is only read,
//! never waited for, so a task with no latency finishes as fast as it is polled.

use std::time::{Duration, Instant};

/// How a task ends, decided at submit.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// `SUCCEED` with these image URLs (possibly none: contract 12.14).
    Succeed { urls: Vec<String> },
    /// `FAILED`, with `errors.message` or, when `None`, no detail at all (contract 12.9).
    Fail { message: Option<String> },
}

/// What a poll should answer.
#[derive(Clone, Debug)]
pub enum Phase {
    /// Still working; the `task_status` to report.
    InProgress(&'static str),
    /// Finished; `time_taken` in milliseconds.
    Terminal {
        outcome: Outcome,
        time_taken_ms: f64,
    },
}

/// A submitted task.
#[derive(Debug)]
pub struct Task {
    /// The model, for the per-model rate-limit headers of poll answers.
    pub model: String,
    /// Echo `task_id` in the form the submit answer used.
    pub id_as_number: bool,
    submitted_at: Instant,
    latency: Duration,
    in_progress_polls: u32,
    running_status: bool,
    outcome: Outcome,
    in_progress_answered: u32,
    /// When the last required in-progress poll was answered.
    polls_done_at: Option<Instant>,
    /// Polls answered for this task.
    pub polls: usize,
}

/// The parts of the configuration that shape a task, read at submit.
#[derive(Clone, Debug)]
pub struct Script {
    pub latency: Duration,
    pub in_progress_polls: u32,
    pub running_status: bool,
    pub outcome: Outcome,
}

impl Task {
    pub fn new(model: String, id_as_number: bool, script: Script, now: Instant) -> Task {
        Task {
            model,
            id_as_number,
            submitted_at: now,
            latency: script.latency,
            in_progress_polls: script.in_progress_polls,
            running_status: script.running_status,
            outcome: script.outcome,
            in_progress_answered: 0,
            polls_done_at: (script.in_progress_polls == 0).then_some(now),
            polls: 0,
        }
    }

    /// The instant from which a poll gets the terminal answer, once it is known: the
    /// later of "latency has passed" and "the last in-progress poll was answered".
    pub fn done_at(&self) -> Option<Instant> {
        self.polls_done_at
            .map(|polls_done| polls_done.max(self.submitted_at + self.latency))
    }

    /// Answers one poll at `now`, moving the script forward.
    pub fn poll(&mut self, now: Instant) -> Phase {
        self.polls += 1;
        if let Some(done_at) = self.done_at().filter(|done_at| now >= *done_at) {
            let taken = done_at.duration_since(self.submitted_at);
            // Milliseconds with two decimals, like the capture's `18812.86`.
            let time_taken_ms = (taken.as_secs_f64() * 100_000.0).round() / 100.0;
            return Phase::Terminal {
                outcome: self.outcome.clone(),
                time_taken_ms,
            };
        }
        let status = match (self.in_progress_answered, self.running_status) {
            (0, _) => "PENDING",
            (_, false) => "PROCESSING",
            (_, true) => "RUNNING",
        };
        self.in_progress_answered = self.in_progress_answered.saturating_add(1);
        if self.polls_done_at.is_none() && self.in_progress_answered >= self.in_progress_polls {
            self.polls_done_at = Some(now);
        }
        Phase::InProgress(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(latency: Duration, in_progress_polls: u32, now: Instant) -> Task {
        let script = Script {
            latency,
            in_progress_polls,
            running_status: false,
            outcome: Outcome::Fail { message: None },
        };
        Task::new("m".into(), false, script, now)
    }

    fn status(phase: &Phase) -> &'static str {
        match phase {
            Phase::InProgress(s) => s,
            Phase::Terminal { .. } => "TERMINAL",
        }
    }

    #[test]
    fn polls_walk_pending_processing_then_terminal() {
        let t0 = Instant::now();
        let mut t = task(Duration::ZERO, 3, t0);
        let seen: Vec<_> = (0..5).map(|_| status(&t.poll(t0))).collect();
        assert_eq!(
            seen,
            [
                "PENDING",
                "PROCESSING",
                "PROCESSING",
                "TERMINAL",
                "TERMINAL"
            ]
        );
        assert_eq!(t.polls, 5);
    }

    #[test]
    fn latency_keeps_a_task_in_progress_after_its_polls() {
        let t0 = Instant::now();
        let mut t = task(Duration::from_secs(10), 1, t0);
        assert_eq!(status(&t.poll(t0)), "PENDING");
        assert_eq!(status(&t.poll(t0 + Duration::from_secs(9))), "PROCESSING");
        assert_eq!(t.done_at(), Some(t0 + Duration::from_secs(10)));
        match t.poll(t0 + Duration::from_secs(11)) {
            Phase::Terminal { time_taken_ms, .. } => assert_eq!(time_taken_ms, 10_000.0),
            other => panic!("expected terminal, got {other:?}"),
        }
    }

    #[test]
    fn zero_in_progress_polls_is_terminal_at_once() {
        let t0 = Instant::now();
        let mut t = task(Duration::ZERO, 0, t0);
        assert_eq!(t.done_at(), Some(t0));
        assert_eq!(status(&t.poll(t0)), "TERMINAL");
    }
}
