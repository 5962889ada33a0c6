//! `__NAME__`: a streamplug source. This example makes `count` JSON events
//! and then finishes; replace `poll` with reading from where your records
//! come from.

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

pub struct __TYPE__ {
    /// The sequence number of the next record.
    next: u64,
    count: u64,
    kind: String,
}

impl Source for __TYPE__ {
    /// Called once per instance with the plugin's `config` table. An error
    /// here (a missing or malformed setting) stops the plugin with that message.
    fn init(config: Config) -> Result<Self, String> {
        // A typo in the config is an error, not a silently ignored setting.
        config.deny_unknown(&["count", "kind"])?;
        Ok(Self {
            next: 0,
            count: config.parse("count", 10)?,
            kind: config.get("kind").unwrap_or("event").to_string(),
        })
    }

    /// Writes records to `out`, at most `max_records` of them, and stops
    /// once `out.is_full()` (the host's byte budget). A source that has
    /// nothing now returns `Poll::Idle(ms)` instead of sleeping: the host
    /// polls it again after `ms` and can stop it meanwhile.
    fn poll(&mut self, _max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        while self.next < self.count && !out.is_full() {
            let seq = self.next.to_string();
            let key = format!("key-{}", self.next % 4);
            let value = format!(r#"{{"seq":{seq},"kind":"{}"}}"#, self.kind);
            out.record()
                .key(key.as_bytes())
                .value(value.as_bytes())
                .header("seq", seq.as_bytes())
                .finish();
            self.next += 1;
        }
        Ok(if self.next == self.count {
            Poll::Finished
        } else {
            Poll::Ready
        })
    }

    /// Where the source has got to, after the records of the last poll. The
    /// host keeps it and hands it to `resume` of the instance that takes
    /// over after a crash, a hot swap or (with `[checkpoints]`) a restart.
    fn checkpoint(&self) -> Option<Vec<u8>> {
        Some(self.next.to_le_bytes().to_vec())
    }

    /// Called right after `init` on an instance that takes over.
    fn resume(&mut self, checkpoint: &[u8]) -> Result<(), String> {
        let bytes: [u8; 8] = checkpoint
            .try_into()
            .map_err(|_| format!("a checkpoint of {} bytes, expected 8", checkpoint.len()))?;
        self.next = u64::from_le_bytes(bytes);
        Ok(())
    }
}

streamplug_sdk::export_source!(__TYPE__);

#[cfg(test)]
mod tests;
