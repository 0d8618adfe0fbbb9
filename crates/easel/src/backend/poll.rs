//! Adaptive polling: dense right after submission, where fast jobs finish, then backing off
//! to a ceiling so long jobs do not hammer the API.

use std::time::Duration;

/// Yields the delay before each poll: `initial`, then ×1.5 each time up to `max`.
#[derive(Clone, Debug)]
pub struct PollSchedule {
    next: Duration,
    max: Duration,
}

impl PollSchedule {
    pub fn new(initial: Duration, max: Duration) -> Self {
        PollSchedule {
            next: initial,
            max: max.max(initial),
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        let current = self.next;
        self.next = self.next.mul_f64(1.5).min(self.max);
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_early_and_backs_off_to_the_ceiling() {
        let mut s = PollSchedule::new(Duration::from_millis(200), Duration::from_secs(5));
        let delays: Vec<u128> = (0..12).map(|_| s.next_delay().as_millis()).collect();
        assert_eq!(delays[0], 200);
        assert_eq!(delays[1], 300);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*delays.last().expect("some"), 5000);
    }
}
