//! Where records are handed over in runs, and what their delivery reports
//! settle.
//!
//! A source's records go to librdkafka in *runs*: one reservation of its
//! in-flight room and admission credit covers every record of a run, and the
//! run is released in one go (in-flight caps, admission window, counters)
//! once each of its records has its delivery report. The pipeline thread
//! and the delivery thread thus share a few counters per run, not ten
//! atomics per record. A record's delivery opaque is a pointer to its run;
//! the run is freed by whoever settles its last record.
//!
//! A *batch* (what one `poll` returned) is handed over in one or more runs;
//! its checkpoint becomes committable once all its runs are settled (see
//! [`crate::checkpoint::CheckpointTracker`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::sink::RecordSink;

/// The largest run: a run's room is given back only when all its records
/// are reported, so runs stay small beside the caps.
pub const MAX_RUN: u64 = 256;

/// One batch of a source: its checkpoint becomes committable once every run
/// of it is settled (and every batch before it, which the tracker checks).
pub struct BatchToken {
    pub sink: Arc<RecordSink>,
    /// Runs not yet settled, plus one until the batch is sealed.
    pending: AtomicU64,
    seq: Option<u64>,
    /// When the batch was made: the start of its records' delivery latency
    /// (one clock read per batch, none per record).
    made: Instant,
}

impl BatchToken {
    /// A batch whose records bring the source to `checkpoint`.
    pub fn open(sink: &Arc<RecordSink>, checkpoint: Option<Vec<u8>>) -> Arc<Self> {
        Arc::new(Self {
            sink: sink.clone(),
            pending: AtomicU64::new(1),
            seq: Some(sink.checkpoints.open(checkpoint)),
            made: Instant::now(),
        })
    }

    /// Records outside any source's sequence (dead letters, checkpoint records).
    pub fn untracked(sink: &Arc<RecordSink>) -> Arc<Self> {
        Arc::new(Self {
            sink: sink.clone(),
            pending: AtomicU64::new(1),
            seq: None,
            made: Instant::now(),
        })
    }

    /// Every record of the batch has been handed over (or refused).
    pub fn seal(&self) {
        self.settled(1);
    }

    fn settled(&self, runs: u64) {
        if self.pending.fetch_sub(runs, Ordering::AcqRel) == runs
            && let Some(seq) = self.seq
        {
            self.sink.checkpoints.done(seq);
        }
    }
}

/// Records handed over on one reservation. Shared by the pipeline thread
/// (which opens and closes it) and the delivery thread (which settles it).
pub struct Run {
    batch: Arc<BatchToken>,
    /// Records without a report, plus one until the run is closed.
    pending: AtomicU64,
    /// Set when the run is closed: the records and payload bytes it counts.
    records: AtomicU64,
    bytes: AtomicU64,
    /// Of those, the records that failed (refused by the producer, or
    /// reported failed) and their bytes.
    failed: AtomicU64,
    failed_bytes: AtomicU64,
}

/// A run being filled on the pipeline thread.
pub struct OpenRun {
    run: *const Run,
    /// Room left under the caps when the run was opened; the last record
    /// may pass the byte cap, as a record's size is known only once made.
    room_records: u64,
    room_bytes: u64,
    records: u64,
    bytes: u64,
    refused: u64,
    refused_bytes: u64,
}

impl OpenRun {
    /// A run of `batch` with room for at most `records` records and about
    /// `bytes` payload bytes.
    pub fn open(batch: &Arc<BatchToken>, records: u64, bytes: u64) -> Self {
        batch.pending.fetch_add(1, Ordering::AcqRel);
        let run = Arc::new(Run {
            batch: batch.clone(),
            pending: AtomicU64::new(1),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failed_bytes: AtomicU64::new(0),
        });
        Self {
            // The reference owned by the run's pending reports.
            run: Arc::into_raw(run),
            room_records: records.clamp(1, MAX_RUN),
            room_bytes: bytes.max(1),
            records: 0,
            bytes: 0,
            refused: 0,
            refused_bytes: 0,
        }
    }

    /// Whether another record fits in this run.
    pub fn has_room(&self) -> bool {
        self.records < self.room_records && self.bytes < self.room_bytes
    }

    /// Counts a record about to be handed over; returns its delivery opaque.
    pub fn add(&mut self, bytes: u64) -> usize {
        self.records += 1;
        self.bytes += bytes;
        // SAFETY: the run is alive until settled, which needs `close` first.
        unsafe { (*self.run).pending.fetch_add(1, Ordering::Relaxed) };
        self.run as usize
    }

    /// The producer refused the record just added: it will have no report.
    pub fn refused(&mut self, bytes: u64) {
        self.refused += 1;
        self.refused_bytes += bytes;
    }

    #[cfg(test)]
    fn opaque_for_test(&self) -> usize {
        self.run as usize
    }

    /// Records added so far.
    pub fn len(&self) -> u64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Publishes the run's records to its sink's in-flight count and
    /// admission window (before any of its reports can release them, which
    /// settling waits for), and gives up the pipeline's hold on it.
    pub fn close(self, sink: &RecordSink) {
        // SAFETY: still alive: our hold (the 1 in `pending`) is released last.
        let run = unsafe { &*self.run };
        if self.records > 0 {
            let now = sink.in_flight.acquire(self.records, self.bytes);
            if let Some(gate) = &sink.admission {
                gate.add_bytes(self.bytes);
            }
            sink.stats.peak(now);
        }
        run.records.store(self.records, Ordering::Relaxed);
        run.bytes.store(self.bytes, Ordering::Relaxed);
        if self.refused > 0 {
            run.failed.fetch_add(self.refused, Ordering::Relaxed);
            run.failed_bytes
                .fetch_add(self.refused_bytes, Ordering::Relaxed);
        }
        // SAFETY: `self.run` came from `Arc::into_raw` and is settled once.
        unsafe { settle(self.run, 1 + self.refused) };
    }
}

/// Counts a reported failure against the record's run, before the record is
/// settled.
///
/// # Safety
/// `opaque` is the delivery opaque of a record not yet settled.
pub unsafe fn failed(opaque: usize, bytes: u64) -> Arc<RecordSink> {
    // SAFETY: the caller's record keeps the run alive.
    let run = unsafe { &*(opaque as *const Run) };
    run.failed.fetch_add(1, Ordering::Relaxed);
    run.failed_bytes.fetch_add(bytes, Ordering::Relaxed);
    run.batch.sink.clone()
}

/// `n` records of the run behind `opaque` got their reports at `now`:
/// counted in their source's delivery latency, from their batch being made.
/// Dead letters are not a source's records and are not counted.
///
/// # Safety
/// `opaque` is the delivery opaque of records not yet settled.
pub unsafe fn observe(opaque: usize, n: u64, now: Instant) {
    // SAFETY: the caller's records keep the run alive.
    let batch = unsafe { &(*(opaque as *const Run)).batch };
    if !batch.sink.carries_dead_letters {
        let latency = now.saturating_duration_since(batch.made);
        batch.sink.stats.latency.record(latency, n);
    }
}

/// `n` records of the run behind `opaque` have their reports (failures
/// already counted with [`failed`]). The last one releases the run.
///
/// # Safety
/// `opaque` is a delivery opaque from [`OpenRun::add`], and the `n` records
/// are settled only once each.
pub unsafe fn settle_reports(opaque: usize, n: u64) {
    // SAFETY: as the caller promises.
    unsafe { settle(opaque as *const Run, n) }
}

unsafe fn settle(run: *const Run, n: u64) {
    // SAFETY: `run` is alive while it has pending reports or holds.
    if unsafe { (*run).pending.fetch_sub(n, Ordering::AcqRel) } == n {
        // SAFETY: the last reference, taken over from `Arc::into_raw`.
        let run = unsafe { Arc::from_raw(run) };
        run.release();
    }
}

impl Run {
    /// Every record of the run has its report: give back its room and count
    /// what was delivered.
    fn release(&self) {
        let sink = &self.batch.sink;
        let records = self.records.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        let ok = records - self.failed.load(Ordering::Relaxed);
        let ok_bytes = bytes - self.failed_bytes.load(Ordering::Relaxed);
        // Counted before the room is given back, so that whoever waits for
        // nothing to be in flight also sees these records counted.
        if let Some(txn) = &sink.transaction {
            txn.acked(ok, ok_bytes);
        } else if sink.carries_dead_letters {
            sink.stats.dead_lettered.fetch_add(ok, Ordering::Relaxed);
        } else {
            sink.stats.delivered.fetch_add(ok, Ordering::Relaxed);
            sink.stats.bytes.fetch_add(ok_bytes, Ordering::Relaxed);
        }
        if records > 0 {
            sink.in_flight.release(records, bytes);
            if let Some(gate) = &sink.admission {
                gate.release(records, bytes);
            }
        }
        self.batch.settled(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::{Admission, InFlight};
    use crate::stats::PluginStats;

    fn sink() -> Arc<RecordSink> {
        let mut sink = RecordSink::new(Arc::new(PluginStats::default()), InFlight::new(10, 1000));
        sink.admission = Some(Arc::new(Admission::new(100, 10_000)));
        Arc::new(sink)
    }

    /// A run's records count as in flight from its close until its last
    /// report, then are released together, with only the delivered ones
    /// (and their bytes) counted as delivered; the batch's checkpoint
    /// becomes committable only once it is sealed and every run is settled.
    #[test]
    fn a_run_is_released_by_its_last_report() {
        let sink = sink();
        let gate = sink.admission.clone().unwrap();
        gate.reserve(5);
        let batch = BatchToken::open(&sink, Some(b"after".to_vec()));
        let mut first = OpenRun::open(&batch, 3, 1000);
        let a = first.add(10);
        first.add(20);
        let c = first.add(30);
        assert!(!first.has_room(), "3 records fill a run opened for 3");
        first.close(&sink);
        let mut second = OpenRun::open(&batch, 2, 1000);
        let d = second.add(40);
        second.add(50);
        second.refused(50);
        second.close(&sink);
        batch.seal();
        assert_eq!((sink.in_flight.records(), sink.in_flight.bytes()), (5, 150));
        assert_eq!(sink.stats.peak_in_flight.load(Ordering::Relaxed), 5);
        // Reports out of order, one failed; the first run is whole only at
        // its third report.
        unsafe {
            settle_reports(c, 1);
            let _ = failed(a, 10);
            settle_reports(a, 1);
        }
        assert_eq!(
            sink.in_flight.records(),
            5,
            "one report of the first run missing"
        );
        unsafe { settle_reports(a, 1) };
        assert_eq!((sink.in_flight.records(), sink.in_flight.bytes()), (2, 90));
        assert_eq!(sink.stats.delivered.load(Ordering::Relaxed), 2);
        assert_eq!(sink.stats.bytes.load(Ordering::Relaxed), 50);
        assert_eq!(
            sink.checkpoints.uncommitted(),
            None,
            "the second run is out"
        );
        unsafe { settle_reports(d, 1) };
        assert_eq!((sink.in_flight.records(), sink.in_flight.bytes()), (0, 0));
        assert_eq!(
            gate.records(),
            0,
            "the window's credit came back with the runs"
        );
        // The refused record is not delivered; the checkpoint is committable.
        assert_eq!(sink.stats.delivered.load(Ordering::Relaxed), 3);
        assert_eq!(sink.stats.bytes.load(Ordering::Relaxed), 90);
        assert_eq!(sink.checkpoints.uncommitted(), Some((b"after".to_vec(), 1)));
    }

    /// The byte room bounds a run too; the record that crosses it is the
    /// last one in (a record's size is known only once it is made).
    #[test]
    fn a_run_is_full_at_its_byte_room() {
        let sink = sink();
        let batch = BatchToken::untracked(&sink);
        let mut run = OpenRun::open(&batch, 100, 25);
        run.add(20);
        assert!(run.has_room());
        run.add(20);
        assert!(!run.has_room());
        let opaques = [run.opaque_for_test(), run.opaque_for_test()];
        run.close(&sink);
        for o in opaques {
            unsafe { settle_reports(o, 1) };
        }
        assert_eq!(sink.in_flight.records(), 0);
    }
}
