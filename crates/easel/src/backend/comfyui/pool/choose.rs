//! Which server a new job goes to: the one with the shortest expected wait. Pure, so the
//! rule can be tested without servers.
//!
//! expected wait = (pending + 1) × mean job time / weight, where pending is the larger of
//! the server's own queue (`queue_remaining`) and easel's jobs in flight there. The larger,
//! not the sum: ComfyUI's queue already holds easel's jobs, and easel's count is ahead of it
//! for jobs just submitted. The mean job time is measured per server, so a faster server
//! gets more work; a server not measured yet is assumed to take the pool's mean.

/// What the chooser knows about one server that can take the job.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Position among the servers of the pool: the round-robin order of ties.
    pub index: usize,
    /// `queue_remaining` as last reported (WebSocket `status`, health check), if recent.
    pub remote_queue: Option<u64>,
    /// Jobs easel submitted there and is still following.
    pub in_flight: u64,
    /// Measured seconds per job (moving average), if any job was measured.
    pub mean_secs: Option<f64>,
    pub weight: f64,
}

/// Mean job time assumed when no server has been measured.
const UNMEASURED_SECS: f64 = 1.0;

/// The mean of the measured servers, for the ones not measured yet.
pub fn pool_mean(loads: &[Load]) -> f64 {
    let measured: Vec<f64> = loads.iter().filter_map(|l| l.mean_secs).collect();
    if measured.is_empty() {
        UNMEASURED_SECS
    } else {
        measured.iter().sum::<f64>() / measured.len() as f64
    }
}

pub fn expected_wait(load: &Load, pool_mean: f64) -> f64 {
    let pending = load.remote_queue.unwrap_or(0).max(load.in_flight);
    let mean = load.mean_secs.unwrap_or(pool_mean);
    (pending as f64 + 1.0) * mean / load.weight
}

/// Servers best first. Ties (equal expected wait) go to fewer jobs in flight, then in turn
/// starting after `turn`, so that equal idle servers take jobs round robin.
pub fn order(loads: &[Load], turn: usize, servers: usize) -> Vec<usize> {
    let mean = pool_mean(loads);
    let servers = servers.max(1);
    let mut ranked: Vec<(f64, u64, usize, usize)> = loads
        .iter()
        .map(|l| {
            let rotation = (l.index + servers - turn % servers) % servers;
            (expected_wait(l, mean), l.in_flight, rotation, l.index)
        })
        .collect();
    ranked.sort_by(|a, b| {
        let wait = if (a.0 - b.0).abs() <= 1e-9 * a.0.abs().max(b.0.abs()).max(1e-12) {
            std::cmp::Ordering::Equal
        } else {
            a.0.total_cmp(&b.0)
        };
        wait.then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    });
    ranked.into_iter().map(|r| r.3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(index: usize, queue: Option<u64>, in_flight: u64, mean: Option<f64>) -> Load {
        Load {
            index,
            remote_queue: queue,
            in_flight,
            mean_secs: mean,
            weight: 1.0,
        }
    }

    #[test]
    fn the_shorter_expected_wait_wins() {
        // a: 3 waiting at 1 s = 4 s; b: 1 waiting at 3 s = 6 s.
        let loads = [
            load(0, Some(3), 0, Some(1.0)),
            load(1, Some(1), 0, Some(3.0)),
        ];
        assert_eq!(order(&loads, 0, 2), vec![0, 1]);
        // With 6 waiting, a's 7 s is longer than b's 6 s.
        let loads = [
            load(0, Some(6), 0, Some(1.0)),
            load(1, Some(1), 0, Some(3.0)),
        ];
        assert_eq!(order(&loads, 0, 2), vec![1, 0]);
    }

    #[test]
    fn pending_is_the_larger_of_remote_queue_and_in_flight_not_the_sum() {
        let l = load(0, Some(4), 3, Some(1.0));
        assert_eq!(expected_wait(&l, 1.0), 5.0);
        let l = load(0, Some(1), 3, Some(1.0));
        assert_eq!(
            expected_wait(&l, 1.0),
            4.0,
            "jobs just sent are not in the queue yet"
        );
        let l = load(0, None, 0, Some(2.0));
        assert_eq!(expected_wait(&l, 1.0), 2.0);
    }

    #[test]
    fn weight_divides_the_wait() {
        let mut heavy = load(1, Some(2), 0, None);
        heavy.weight = 4.0;
        let loads = [load(0, Some(0), 0, None), heavy];
        // a: 1 × 1 / 1 = 1; b: 3 × 1 / 4 = 0.75.
        assert_eq!(order(&loads, 0, 2), vec![1, 0]);
    }

    #[test]
    fn unmeasured_servers_take_the_pool_mean() {
        let loads = [load(0, None, 0, Some(4.0)), load(1, None, 0, None)];
        assert_eq!(pool_mean(&loads), 4.0);
        assert_eq!(expected_wait(&loads[1], pool_mean(&loads)), 4.0);
        assert_eq!(pool_mean(&[load(0, None, 0, None)]), 1.0);
    }

    #[test]
    fn faster_servers_get_more_of_a_burst() {
        // Simulate 12 jobs arriving at once: each pick adds one in flight to the winner.
        let mut loads = [
            load(0, None, 0, Some(0.5)),
            load(1, None, 0, Some(2.0)),
            load(2, None, 0, Some(1.0)),
        ];
        let mut got = [0; 3];
        for turn in 0..12 {
            let best = order(&loads, turn, 3)[0];
            got[best] += 1;
            loads[best].in_flight += 1;
        }
        assert!(got[0] > got[2] && got[2] > got[1], "{got:?}");
        assert_eq!(got.iter().sum::<i32>(), 12);
    }

    #[test]
    fn equal_idle_servers_take_turns() {
        let loads = [
            load(0, Some(0), 0, None),
            load(1, Some(0), 0, None),
            load(2, Some(0), 0, None),
        ];
        assert_eq!(order(&loads, 0, 3)[0], 0);
        assert_eq!(order(&loads, 1, 3)[0], 1);
        assert_eq!(order(&loads, 2, 3)[0], 2);
        assert_eq!(order(&loads, 3, 3)[0], 0);
        // Only some servers can take the job: the turn still rotates among them.
        let two = [load(0, Some(0), 0, None), load(2, Some(0), 0, None)];
        assert_eq!(order(&two, 1, 3)[0], 2);
        assert_eq!(order(&two, 3, 3)[0], 0);
    }

    #[test]
    fn ties_go_to_fewer_in_flight_first() {
        // Both wait 3 s: a's queue is easel's 2 jobs, b's queue is 2 jobs of other clients.
        let loads = [
            load(0, Some(2), 2, Some(1.0)),
            load(1, Some(2), 0, Some(1.0)),
        ];
        assert_eq!(order(&loads, 0, 2), vec![1, 0]);
    }
}
