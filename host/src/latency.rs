//! Delivery latency per source: from a batch being made (the `poll` that
//! returned it) to the broker's acknowledgement of its records. Fed on the
//! delivery report thread once per stretch of records of one run, with one
//! clock read per report event: no clock is read per record.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Upper bounds of the buckets, in seconds (the last bucket is unbounded).
pub const BOUNDS: [f64; 16] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Records counted by the bucket of their latency.
#[derive(Default)]
pub struct LatencyHistogram {
    /// One more than [`BOUNDS`]: the last counts what is above them all.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl LatencyHistogram {
    /// `records` records were acknowledged `latency` after they were made.
    pub fn record(&self, latency: Duration, records: u64) {
        let seconds = latency.as_secs_f64();
        let i = BOUNDS.partition_point(|b| *b < seconds);
        self.buckets[i].fetch_add(records, Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros
            .fetch_add(micros.saturating_mul(records), Relaxed);
    }

    pub fn snapshot(&self) -> Latencies {
        Latencies {
            buckets: self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
            sum_seconds: self.sum_micros.load(Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram's counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// Records per bucket of [`BOUNDS`] (not cumulative), then those above.
    pub buckets: Vec<u64>,
    pub sum_seconds: f64,
}

impl Latencies {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in
    /// seconds: the latency that `q` of the records stayed within. None
    /// without records; infinite if it lies above the last bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((q * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(BOUNDS.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        Some(f64::INFINITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_bounds() {
        let h = LatencyHistogram::default();
        h.record(Duration::from_micros(1500), 98); // 2 ms bucket
        h.record(Duration::from_millis(300), 2); // 500 ms bucket
        let s = h.snapshot();
        assert_eq!(s.count(), 100);
        assert_eq!(s.quantile(0.5), Some(0.002));
        assert_eq!(s.quantile(0.98), Some(0.002));
        assert_eq!(s.quantile(0.99), Some(0.5));
        assert!((s.sum_seconds - (98.0 * 0.0015 + 2.0 * 0.3)).abs() < 1e-9);
        h.record(Duration::from_secs(500), 1000);
        assert_eq!(h.snapshot().quantile(0.99), Some(f64::INFINITY));
        assert_eq!(Latencies::default().quantile(0.5), None);
    }
}
