//! Exponential backoff with jitter between publish attempts.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Delays that double per failure from `initial` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `failures + 1`, after `failures` (≥ 1) failed attempts:
    /// `initial · 2^(failures-1)`, capped at `max`, then jittered to 50–100 % so that many
    /// failed messages do not come back at the same instant.
    pub fn delay(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let full = self.initial.saturating_mul(1 << exponent).min(self.max);
        full.mul_f64(0.5 + 0.5 * unit_random())
    }
}

/// A number in [0, 1) that differs per call (std's randomly keyed hasher; no rand crate).
fn unit_random() -> f64 {
    (RandomState::new().hash_one(std::time::Instant::now()) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_failure_and_stop_at_the_maximum() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for (failures, full_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (5, 1600),
            (6, 2000),
            (60, 2000),
        ] {
            let full = Duration::from_millis(full_ms);
            for _ in 0..20 {
                let d = backoff.delay(failures);
                assert!(d >= full / 2 && d <= full, "failures {failures}: {d:?}");
            }
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        };
        let delays: std::collections::HashSet<_> = (0..20).map(|_| backoff.delay(1)).collect();
        assert!(delays.len() > 1);
    }
}
