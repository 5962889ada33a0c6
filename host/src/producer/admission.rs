//! Where admission to the shared producer is made fair.
//!
//! Every source hands records to one producer, whose window (records and
//! bytes between hand-over and delivery report, across all sources) is
//! capped by `kafka.max_in_flight_records` / `max_in_flight_bytes`. While the
//! window has room, a source takes what it needs without waiting. Once it is
//! full, sources queue for it and are served in turns, weighted round robin:
//! each turn grants `weight × QUANTUM` records, then the source goes to the
//! back of the line. A greedy source therefore gets its share of the window,
//! not the whole of it, however fast it asks.
//!
//! Grants are credits a pipeline spends record by record, so the shared
//! state is touched once per quantum, not once per record.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::pipeline::stop::Stop;

/// Records granted per turn to a source of weight 1.
pub const QUANTUM: u64 = 64;

pub struct Admission {
    records: AtomicU64,
    bytes: AtomicU64,
    max_records: u64,
    max_bytes: u64,
    /// How many sources are in line; releases only lock when someone is.
    waiting: AtomicUsize,
    /// Sources waiting for the window, in the order they are to be served.
    line: Mutex<VecDeque<u64>>,
    room: Condvar,
    next_id: AtomicU64,
}

/// A source's place in the rotation: its identity and the size of its turn.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    id: u64,
    quantum: u64,
}

impl Admission {
    pub fn new(max_records: u64, max_bytes: u64) -> Self {
        Self {
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            max_records: max_records.max(1),
            max_bytes: max_bytes.max(1),
            waiting: AtomicUsize::new(0),
            line: Mutex::new(VecDeque::new()),
            room: Condvar::new(),
            next_id: AtomicU64::new(0),
        }
    }

    /// A ticket for a source of `weight` (at least 1).
    pub fn ticket(&self, weight: u32) -> Ticket {
        Ticket {
            id: self.next_id.fetch_add(1, SeqCst),
            quantum: QUANTUM * u64::from(weight.max(1)),
        }
    }

    /// Reserves room for up to `want` records (at most one turn's worth) and
    /// returns how many were granted. Waits its turn while the window is
    /// full; `None` if `stop` was raised meanwhile.
    /// Time spent in line is added to `waited` (nanoseconds).
    pub fn acquire(
        &self,
        ticket: Ticket,
        want: u64,
        stop: &Stop,
        waited: &AtomicU64,
    ) -> Option<u64> {
        let n = want.clamp(1, ticket.quantum);
        // Nobody in line: no turn to respect.
        if self.waiting.load(SeqCst) == 0 && self.has_room() {
            self.records.fetch_add(n, SeqCst);
            return Some(n);
        }
        let since = Instant::now();
        let granted = self.wait_in_line(ticket, n, stop);
        waited.fetch_add(since.elapsed().as_nanos() as u64, Relaxed);
        granted
    }

    fn wait_in_line(&self, ticket: Ticket, n: u64, stop: &Stop) -> Option<u64> {
        let mut line = self.line.lock().unwrap_or_else(|e| e.into_inner());
        line.push_back(ticket.id);
        self.waiting.fetch_add(1, SeqCst);
        loop {
            if line.front() == Some(&ticket.id) && self.has_room() {
                line.pop_front();
                self.waiting.fetch_sub(1, SeqCst);
                self.records.fetch_add(n, SeqCst);
                // The next in line may fit too.
                self.room.notify_all();
                return Some(n);
            }
            if stop.is_raised() {
                line.retain(|id| *id != ticket.id);
                self.waiting.fetch_sub(1, SeqCst);
                self.room.notify_all();
                return None;
            }
            line = self
                .room
                .wait_timeout(line, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Reserves room for `n` records whether or not there is any: for the
    /// records in hand at shutdown, which are handed over regardless.
    pub fn reserve(&self, n: u64) -> u64 {
        self.records.fetch_add(n, SeqCst);
        n
    }

    /// Counts the bytes of a record handed over on a granted credit.
    pub fn add_bytes(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, SeqCst);
    }

    /// A record left the window (delivered, failed, or its credit unused).
    /// Called from delivery reports: never blocks for long.
    pub fn release(&self, records: u64, bytes: u64) {
        self.records.fetch_sub(records, SeqCst);
        self.bytes.fetch_sub(bytes, SeqCst);
        if self.waiting.load(SeqCst) > 0 {
            let _line = self.line.lock().unwrap_or_else(|e| e.into_inner());
            self.room.notify_all();
        }
    }

    /// Records in the window now, reserved or in flight.
    pub fn records(&self) -> u64 {
        self.records.load(SeqCst)
    }

    fn has_room(&self) -> bool {
        self.records.load(SeqCst) < self.max_records && self.bytes.load(SeqCst) < self.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// Sources of weights 1, 1 and 3 all asking for far more than the window
    /// holds: each release lets exactly the next in line through, so over
    /// many turns their grants are in proportion to their weights, whatever
    /// order the threads happen to run in.
    #[test]
    fn full_window_is_shared_by_weight() {
        let gate = Arc::new(Admission::new(1, u64::MAX));
        let stop = Arc::new(Stop::default());
        let weights = [1u32, 1, 3];
        let granted: Arc<Vec<AtomicU64>> = Arc::new(weights.iter().map(|_| 0.into()).collect());
        let done = Arc::new(AtomicBool::new(false));
        // Hold the window so that every source has to queue.
        assert_eq!(
            gate.acquire(gate.ticket(1), 1, &stop, &AtomicU64::new(0)),
            Some(1)
        );
        let threads: Vec<_> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let (gate, stop, granted, done) =
                    (gate.clone(), stop.clone(), granted.clone(), done.clone());
                std::thread::spawn(move || {
                    let ticket = gate.ticket(w);
                    while !done.load(SeqCst) {
                        let Some(n) = gate.acquire(ticket, u64::MAX, &stop, &AtomicU64::new(0))
                        else {
                            break;
                        };
                        granted[i].fetch_add(n, SeqCst);
                    }
                })
            })
            .collect();
        // Release only when every source is in line and the last grant is
        // held, so each release is exactly one turn.
        let mut turns = 0;
        while turns < 300 {
            let held = gate.records();
            if gate.waiting.load(SeqCst) == weights.len() && held > 0 {
                gate.release(held, 0);
                turns += 1;
            } else {
                std::thread::yield_now();
            }
        }
        done.store(true, SeqCst);
        stop.raise();
        gate.release(gate.records(), 0);
        for t in threads {
            t.join().expect("source thread");
        }
        let got: Vec<u64> = granted.iter().map(|g| g.load(SeqCst)).collect();
        // 300 turns = 100 rotations of 64 + 64 + 192 records, give or take
        // the rotation in progress when it stopped.
        let unit = QUANTUM as f64 * 100.0;
        for (g, w) in got.iter().zip(weights) {
            let share = *g as f64 / (unit * f64::from(w));
            assert!(
                (0.97..=1.03).contains(&share),
                "grants {got:?} are not in proportion to weights {weights:?}"
            );
        }
    }

    #[test]
    fn room_is_granted_without_waiting_and_released() {
        let gate = Admission::new(100, 1000);
        let stop = Stop::default();
        let t = gate.ticket(2);
        assert_eq!(
            gate.acquire(t, 500, &stop, &AtomicU64::new(0)),
            Some(2 * QUANTUM)
        );
        assert_eq!(gate.records(), 128);
        gate.add_bytes(2000);
        // Over both caps now: a waiter gives up when stopped.
        stop.raise();
        assert_eq!(
            gate.acquire(gate.ticket(1), 1, &stop, &AtomicU64::new(0)),
            None
        );
        gate.release(128, 2000);
        assert_eq!(gate.records(), 0);
        assert_eq!(gate.acquire(t, 10, &stop, &AtomicU64::new(0)), Some(10));
    }
}
