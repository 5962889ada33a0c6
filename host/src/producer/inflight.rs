//! Where per-plugin in-flight caps are enforced.
//!
//! librdkafka's queue is shared by every plugin: without a cap per plugin, one
//! plugin whose partition has no leader fills it and blocks all the others.
//! Each source may have at most so many records and bytes between "handed to
//! the producer" and "delivery report"; delivery reports release them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::pipeline::stop::Stop;

pub struct InFlight {
    records: AtomicU64,
    bytes: AtomicU64,
    max_records: u64,
    max_bytes: u64,
    /// Set while a source waits, so releases only take the lock when needed.
    waiting: AtomicBool,
    lock: Mutex<()>,
    room: Condvar,
}

impl InFlight {
    pub fn new(max_records: u64, max_bytes: u64) -> Self {
        Self {
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            max_records,
            max_bytes,
            waiting: AtomicBool::new(false),
            lock: Mutex::new(()),
            room: Condvar::new(),
        }
    }

    /// Counts records as in flight; returns how many are in flight now.
    pub fn acquire(&self, records: u64, bytes: u64) -> u64 {
        self.bytes.fetch_add(bytes, SeqCst);
        self.records.fetch_add(records, SeqCst) + records
    }

    /// Called from delivery reports: never blocks for long.
    pub fn release(&self, records: u64, bytes: u64) {
        self.records.fetch_sub(records, SeqCst);
        self.bytes.fetch_sub(bytes, SeqCst);
        if self.waiting.load(SeqCst) {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.room.notify_all();
        }
    }

    pub fn records(&self) -> u64 {
        self.records.load(SeqCst)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(SeqCst)
    }

    /// Bytes that may still be handed over before the byte cap is reached.
    pub fn bytes_room(&self) -> u64 {
        self.max_bytes.saturating_sub(self.bytes.load(SeqCst))
    }

    /// Whether the plugin is under both caps; cheap enough for every record.
    pub fn has_room(&self) -> bool {
        self.records.load(SeqCst) < self.max_records && self.bytes.load(SeqCst) < self.max_bytes
    }

    /// Waits while the plugin is at either cap; then returns the room left
    /// under each (records, bytes). `None` if `stop` was raised meanwhile.
    pub fn wait_for_space(&self, stop: &Stop) -> Option<(u64, u64)> {
        self.wait_for_room(1, stop)?;
        let records = self.max_records.saturating_sub(self.records.load(SeqCst));
        let bytes = self.max_bytes.saturating_sub(self.bytes.load(SeqCst));
        Some((records.max(1), bytes.max(1)))
    }

    /// How many records may be handed over now, at most `want`: waits while
    /// the plugin is at either cap. `None` if `stop` was raised meanwhile.
    /// Each cap may be passed by one record, whose size is only known once
    /// it is made.
    pub fn wait_for_room(&self, want: u64, stop: &Stop) -> Option<u64> {
        let mut guard = None;
        loop {
            let records = self.records.load(SeqCst);
            if records < self.max_records && self.bytes.load(SeqCst) < self.max_bytes {
                self.waiting.store(false, SeqCst);
                return Some(want.min(self.max_records - records));
            }
            if stop.is_raised() {
                self.waiting.store(false, SeqCst);
                return None;
            }
            let g = match guard.take() {
                Some(g) => g,
                None => {
                    let g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                    self.waiting.store(true, SeqCst);
                    // Check again under the lock before sleeping.
                    guard = Some(g);
                    continue;
                }
            };
            let (g, _) = self
                .room
                .wait_timeout(g, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner());
            guard = Some(g);
        }
    }
}
