//! What a plugin is doing, as its pipeline last said, and the last error it
//! met: for `GET /plugins` and the summary.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What a plugin's pipeline is doing with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activity {
    /// Called, or about to be (the default until a pipeline says more).
    #[default]
    Running,
    /// A source that said it has nothing to give, waiting before its next poll.
    Idle,
    /// Failed: waiting out the restart backoff before a new instance starts.
    BackingOff,
}

/// An [`Activity`] that the pipeline thread sets and readers read.
#[derive(Debug, Default)]
pub struct ActivityCell(AtomicU8);

impl ActivityCell {
    pub fn set(&self, a: Activity) {
        self.0.store(a as u8, Relaxed);
    }

    pub fn get(&self) -> Activity {
        match self.0.load(Relaxed) {
            1 => Activity::Idle,
            2 => Activity::BackingOff,
            _ => Activity::Running,
        }
    }
}

/// The last error a plugin met: a failure (trap, limit, bad output), an
/// error it returned, or why it was given up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastError {
    pub message: String,
    /// When, in RFC 3339 (UTC).
    pub time: String,
}

impl LastError {
    pub fn now(message: &str) -> Self {
        Self {
            message: crate::secrets::scrub(message).into_owned(),
            time: rfc3339(SystemTime::now()),
        }
    }
}

/// `t` as `2026-12-02T12:33:44.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> String {
        rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        // `date -u -d @951782400`: a leap day.
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_798_761_599, 999), "2026-12-31T23:59:59.999Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn an_activity_reads_back_as_set() {
        let cell = ActivityCell::default();
        assert_eq!(cell.get(), Activity::Running);
        for a in [Activity::Idle, Activity::BackingOff, Activity::Running] {
            cell.set(a);
            assert_eq!(cell.get(), a);
        }
    }
}
