//! Where quotas are enforced: token buckets (GCRA, via `governor`) for
//! records/s and bytes/s, per source and per tenant. A source over its quota
//! waits before handing records over: it is slowed down, nothing is dropped.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota as Gcra, RateLimiter};

use super::stop::Stop;
use crate::config::Quota;

/// Bytes are metered in KiB so that a bucket of one second's worth holds
/// any realistic batch without overflowing `u32` cells.
const BYTE_UNIT: u64 = 1024;

pub struct RateLimit {
    records: Option<Bucket>,
    bytes: Option<Bucket>,
}

struct Bucket {
    limiter: DefaultDirectRateLimiter,
    /// Largest number of cells one check may ask for.
    burst: u32,
}

impl Bucket {
    fn per_second(rate: u64) -> Option<Self> {
        let rate = NonZeroU32::new(u32::try_from(rate).unwrap_or(u32::MAX))?;
        // Bursts of up to one second's worth.
        Some(Self {
            limiter: RateLimiter::direct(Gcra::per_second(rate)),
            burst: rate.get(),
        })
    }

    /// Takes `cells`, waiting as long as needed (the time waited is added
    /// to `waited`, in nanoseconds). False if stopped meanwhile.
    fn take(&self, mut cells: u64, stop: &Stop, waited: &AtomicU64) -> bool {
        let clock = DefaultClock::default();
        while cells > 0 {
            let chunk = cells.min(u64::from(self.burst)) as u32;
            let Some(n) = NonZeroU32::new(chunk) else {
                return true;
            };
            match self.limiter.check_n(n) {
                Ok(Ok(())) => cells -= u64::from(chunk),
                Ok(Err(not_until)) => {
                    let since = Instant::now();
                    let stopped = stop.sleep(not_until.wait_time_from(clock.now()));
                    waited.fetch_add(since.elapsed().as_nanos() as u64, Relaxed);
                    if stopped {
                        return false;
                    }
                }
                // Unreachable: chunks never exceed the burst.
                Err(_) => return true,
            }
        }
        true
    }
}

impl RateLimit {
    /// `None` when the quota sets no limit.
    pub fn new(quota: &Quota) -> Option<Self> {
        let records = quota
            .records_per_second
            .and_then(|r| Bucket::per_second(u64::from(r)));
        let bytes = quota
            .bytes_per_second
            .and_then(|b| Bucket::per_second((b.0 / BYTE_UNIT).max(1)));
        (records.is_some() || bytes.is_some()).then_some(Self { records, bytes })
    }

    /// Waits until `records` records of `bytes` bytes may be handed over,
    /// adding the time waited to `waited` (nanoseconds). False if `stop`
    /// was raised while waiting (the caller hands them over anyway: a quota
    /// slows records down, it never drops them).
    pub fn admit(&self, records: u64, bytes: u64, stop: &Stop, waited: &AtomicU64) -> bool {
        let records_ok = self
            .records
            .as_ref()
            .is_none_or(|b| b.take(records, stop, waited));
        records_ok
            && self
                .bytes
                .as_ref()
                .is_none_or(|b| b.take(bytes.div_ceil(BYTE_UNIT), stop, waited))
    }
}

/// A quota that a config reload may change while sources run under it.
#[derive(Default)]
pub struct QuotaSlot {
    limit: RwLock<Option<Arc<RateLimit>>>,
}

impl QuotaSlot {
    pub fn new(quota: &Quota) -> Self {
        Self {
            limit: RwLock::new(RateLimit::new(quota).map(Arc::new)),
        }
    }

    /// Applies a new quota from the next batch on (a fresh bucket: the new
    /// rate starts with a full burst).
    pub fn set(&self, quota: &Quota) {
        *self.limit.write().unwrap_or_else(|e| e.into_inner()) =
            RateLimit::new(quota).map(Arc::new);
    }

    /// As [`RateLimit::admit`]; no limit admits at once.
    pub fn admit(&self, records: u64, bytes: u64, stop: &Stop, waited: &AtomicU64) -> bool {
        let limit = self.limit.read().unwrap_or_else(|e| e.into_inner()).clone();
        limit.is_none_or(|l| l.admit(records, bytes, stop, waited))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_quota_that_holds_records_back_counts_time_waited() {
        let stop = Stop::default();
        let quota = |r| Quota {
            records_per_second: r,
            bytes_per_second: None,
        };
        let waited = AtomicU64::new(0);
        // No quota: admitted at once, nothing waited.
        assert!(QuotaSlot::new(&quota(None)).admit(1_000_000, 0, &stop, &waited));
        assert_eq!(waited.load(Relaxed), 0);
        // 1,000/s with a second's burst: the burst passes, the next 50 wait.
        let slot = QuotaSlot::new(&quota(Some(1000)));
        assert!(slot.admit(1000, 0, &stop, &waited));
        assert!(slot.admit(50, 0, &stop, &waited));
        assert!(waited.load(Relaxed) > 0);
    }
}
