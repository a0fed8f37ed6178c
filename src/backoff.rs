//! How long to wait before retrying a call that failed for a passing reason: doubling
//! from `first`, with half of each wait random ("equal jitter"), so that several csi
//! runs (or several services' watches) that failed together do not retry in step.

use std::time::Duration;

/// The wait before retry number `attempt` (1 for the first retry).
pub fn delay(first: Duration, attempt: u32) -> Duration {
    let full = first.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let half = full / 2;
    let jitter = half.mul_f64(fastrand::f64());
    half + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wait_is_between_half_and_all_of_the_doubled_one() {
        let first = Duration::from_millis(250);
        for attempt in 1..=4 {
            let full = first * 2u32.pow(attempt - 1);
            let waits: Vec<Duration> = (0..200).map(|_| delay(first, attempt)).collect();
            assert!(
                waits.iter().all(|w| *w >= full / 2 && *w <= full),
                "{waits:?}"
            );
            let distinct: std::collections::HashSet<_> = waits.iter().collect();
            assert!(
                distinct.len() > 100,
                "jittered: {} distinct waits",
                distinct.len()
            );
        }
    }

    #[test]
    fn a_huge_attempt_number_saturates_instead_of_overflowing() {
        assert!(delay(Duration::from_millis(250), 200) > Duration::from_secs(3600));
    }
}
