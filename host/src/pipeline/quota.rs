//! Where quotas are enforced: token buckets (GCRA, via `governor`) for
//! records/s and bytes/s, per source and per tenant. A source over its quota
//! waits before handing records over: it is slowed down, nothing is dropped.

use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

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

    /// Takes `cells`, waiting as long as needed. False if stopped meanwhile.
    fn take(&self, mut cells: u64, stop: &Stop) -> bool {
        let clock = DefaultClock::default();
        while cells > 0 {
            let chunk = cells.min(u64::from(self.burst)) as u32;
            let Some(n) = NonZeroU32::new(chunk) else {
                return true;
            };
            match self.limiter.check_n(n) {
                Ok(Ok(())) => cells -= u64::from(chunk),
                Ok(Err(not_until)) => {
                    if stop.sleep(not_until.wait_time_from(clock.now())) {
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

    /// Waits until `records` records of `bytes` bytes may be handed over.
    /// False if `stop` was raised while waiting (the caller hands them over
    /// anyway: a quota slows records down, it never drops them).
    pub fn admit(&self, records: u64, bytes: u64, stop: &Stop) -> bool {
        let records_ok = self.records.as_ref().is_none_or(|b| b.take(records, stop));
        records_ok
            && self
                .bytes
                .as_ref()
                .is_none_or(|b| b.take(bytes.div_ceil(BYTE_UNIT), stop))
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
    pub fn admit(&self, records: u64, bytes: u64, stop: &Stop) -> bool {
        let limit = self.limit.read().unwrap_or_else(|e| e.into_inner()).clone();
        limit.is_none_or(|l| l.admit(records, bytes, stop))
    }
}
