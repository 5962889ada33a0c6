//! Where a source's committable checkpoint is worked out: the checkpoint of
//! the last batch such that it and every batch before it have all their
//! records acknowledged by Kafka (the contiguous acknowledged prefix).
//! Delivery reports arrive out of order across partitions, so batches are
//! tracked one by one, not by counting records.

use std::collections::VecDeque;
use std::sync::Mutex;

#[derive(Default)]
pub struct CheckpointTracker {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    /// Batches handed over and not yet all acknowledged, oldest first:
    /// (sequence, every record acknowledged, the checkpoint after it).
    open: VecDeque<(u64, bool, Option<Vec<u8>>)>,
    /// The newest checkpoint of the acknowledged prefix, and a counter that
    /// changes whenever it does.
    acked: Option<Vec<u8>>,
    version: u64,
    /// Checkpoints are stored durably (`[checkpoints]`): the source is told
    /// of those stored, not merely acknowledged.
    durable: bool,
    committed: Option<Vec<u8>>,
    committed_version: u64,
}

impl CheckpointTracker {
    /// Registers the next batch, with the source's checkpoint after it.
    pub fn open(&self, checkpoint: Option<Vec<u8>>) -> u64 {
        let mut i = self.lock();
        let seq = i.next_seq;
        i.next_seq += 1;
        i.open.push_back((seq, false, checkpoint));
        seq
    }

    /// Every record of batch `seq` has its delivery report.
    pub fn done(&self, seq: u64) {
        let mut i = self.lock();
        if let Some(entry) = i.open.iter_mut().find(|(s, ..)| *s == seq) {
            entry.1 = true;
        }
        while i.open.front().is_some_and(|(_, done, _)| *done) {
            if let Some((_, _, Some(c))) = i.open.pop_front() {
                i.acked = Some(c);
                i.version += 1;
            }
        }
    }

    /// From now on only stored checkpoints count as committed.
    pub fn set_durable(&self) {
        self.lock().durable = true;
    }

    /// `checkpoint` (of `version`) is stored.
    pub fn set_committed(&self, checkpoint: Vec<u8>, version: u64) {
        let mut i = self.lock();
        if version > i.committed_version {
            i.committed = Some(checkpoint);
            i.committed_version = version;
        }
    }

    /// `checkpoint` was committed with the records before it, in one
    /// transaction (an exactly-once source): it is stored and acknowledged.
    pub fn set_committed_now(&self, checkpoint: Vec<u8>) {
        let mut i = self.lock();
        i.committed = Some(checkpoint);
        i.committed_version = i.committed_version.max(i.version) + 1;
    }

    /// The acknowledged checkpoint and its version, if it has not been
    /// stored yet.
    pub fn uncommitted(&self) -> Option<(Vec<u8>, u64)> {
        let i = self.lock();
        (i.version > i.committed_version)
            .then(|| i.acked.clone().map(|c| (c, i.version)))
            .flatten()
    }

    /// What the source is told is committed (the stored checkpoint with a
    /// store, the acknowledged one without) and its version, if its version
    /// is no longer `seen`. Cheap when nothing changed: called every batch.
    pub fn committed_since(&self, seen: u64) -> Option<(Option<Vec<u8>>, u64)> {
        let i = self.lock();
        let (checkpoint, version) = if i.durable {
            (&i.committed, i.committed_version)
        } else {
            (&i.acked, i.version)
        };
        (version != seen).then(|| (checkpoint.clone(), version))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_contiguous_acknowledged_prefix_counts() {
        let t = CheckpointTracker::default();
        let a = t.open(Some(b"a".to_vec()));
        let b = t.open(Some(b"b".to_vec()));
        let c = t.open(None);
        let d = t.open(Some(b"d".to_vec()));
        t.done(b);
        t.done(d);
        assert_eq!(t.uncommitted(), None, "batch a is still in flight");
        t.done(a);
        assert_eq!(t.uncommitted(), Some((b"b".to_vec(), 2)));
        t.done(c);
        assert_eq!(t.uncommitted(), Some((b"d".to_vec(), 3)));
    }

    #[test]
    fn with_a_store_only_stored_checkpoints_are_reported_committed() {
        let t = CheckpointTracker::default();
        t.set_durable();
        let a = t.open(Some(b"a".to_vec()));
        t.done(a);
        assert_eq!(t.committed_since(0), None, "acknowledged, not stored");
        let (checkpoint, version) = t.uncommitted().expect("to store");
        t.set_committed(checkpoint, version);
        assert_eq!(t.uncommitted(), None);
        assert_eq!(t.committed_since(0), Some((Some(b"a".to_vec()), 1)));
        assert_eq!(t.committed_since(1), None, "nothing new");
    }
}
