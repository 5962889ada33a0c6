//! Is slow, not broken: each poll burns `busy_ms` of CPU (default 300)
//! before returning a few records with a `seq` header, staying under its
//! call deadline. It must slow only itself.

use std::time::{Duration, Instant};

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

struct Slow {
    busy: Duration,
    next: u64,
}

impl Source for Slow {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Slow {
            busy: Duration::from_millis(config.parse("busy_ms", 300)?),
            next: 0,
        })
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        let start = Instant::now();
        let mut spins = 0u64;
        while start.elapsed() < self.busy {
            spins = spins.wrapping_add(1);
        }
        for _ in 0..max_records.min(10) {
            let seq = self.next.to_string();
            out.record()
                .value(&spins.to_le_bytes())
                .header("seq", seq.as_bytes())
                .finish();
            self.next += 1;
        }
        Ok(Poll::Ready)
    }
}

streamplug_sdk::export_source!(Slow);
