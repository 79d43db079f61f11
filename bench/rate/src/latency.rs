//! Latency percentiles of a run, nearest-rank over every recorded request.

use serde::Serialize;

/// The percentiles `scripts/load-bench` reports, in microseconds.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u32,
    pub p90: u32,
    pub p99: u32,
    pub p999: u32,
    pub max: u32,
}

/// Percentiles of `latencies_us` (sorted here); all zero when nothing was recorded.
pub fn percentiles(mut latencies_us: Vec<u32>) -> Percentiles {
    latencies_us.sort_unstable();
    let at = |fraction: f64| -> u32 {
        if latencies_us.is_empty() {
            return 0;
        }
        // Nearest rank: the smallest value with at least `fraction` of values at or below.
        let rank = (fraction * latencies_us.len() as f64).ceil() as usize;
        latencies_us[rank.clamp(1, latencies_us.len()) - 1]
    };
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: latencies_us.last().copied().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_over_one_to_a_thousand() {
        let values: Vec<u32> = (1..=1000).rev().collect();
        assert_eq!(
            percentiles(values),
            Percentiles {
                p50: 500,
                p90: 900,
                p99: 990,
                p999: 999,
                max: 1000
            }
        );
    }

    #[test]
    fn no_requests_give_zeros_not_a_panic() {
        assert_eq!(percentiles(Vec::new()).max, 0);
        assert_eq!(percentiles(vec![7]).p50, 7);
    }
}
