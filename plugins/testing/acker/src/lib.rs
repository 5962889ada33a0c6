//! A source that listens to delivery feedback, as one that acknowledges
//! upstream would. It makes `count` records (every `big_every`-th one with
//! a 2,000-byte value, for the host to refuse), then waits until it is told
//! that its last checkpoint is committed, and makes one last record saying
//! what it was told: `committed=<n> failed=<n> causes=<cause>:<n>;...`.

use std::collections::BTreeMap;

use streamplug_sdk::{BatchWriter, Config, DeliveryReport, Poll, Source};

struct Acker {
    count: u64,
    big_every: u64,
    next: u64,
    committed: u64,
    failures: BTreeMap<String, u64>,
    reported: bool,
}

impl Source for Acker {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Acker {
            count: config.parse("count", 1000)?,
            big_every: config.parse("big_every", 0)?,
            next: 0,
            committed: 0,
            failures: BTreeMap::new(),
            reported: false,
        })
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        if self.next < self.count {
            let end = self.count.min(self.next + u64::from(max_records));
            for i in self.next..end {
                let big = self.big_every > 0 && i % self.big_every == 0;
                let value = if big {
                    vec![b'x'; 2000]
                } else {
                    vec![b'y'; 10]
                };
                out.record()
                    .value(&value)
                    .header("seq", i.to_string().as_bytes())
                    .finish();
            }
            self.next = end;
            return Ok(Poll::Ready);
        }
        if self.reported {
            return Ok(Poll::Finished);
        }
        if self.committed < self.count {
            return Ok(Poll::Idle(20));
        }
        let failed: u64 = self.failures.values().sum();
        let causes: Vec<String> = self
            .failures
            .iter()
            .map(|(c, n)| format!("{c}:{n}"))
            .collect();
        let report = format!(
            "committed={} failed={failed} causes={}",
            self.committed,
            causes.join(";")
        );
        out.record()
            .value(report.as_bytes())
            .header("seq", b"report")
            .finish();
        self.reported = true;
        Ok(Poll::Finished)
    }

    fn checkpoint(&self) -> Option<Vec<u8>> {
        Some(self.next.to_le_bytes().to_vec())
    }

    fn delivered(&mut self, report: &DeliveryReport) {
        if let Some(c) = &report.committed
            && let Ok(bytes) = <[u8; 8]>::try_from(c.as_slice())
        {
            self.committed = u64::from_le_bytes(bytes);
        }
        for (cause, n) in &report.failed {
            *self.failures.entry(cause.clone()).or_default() += n;
        }
    }
}

streamplug_sdk::export_source!(Acker);
