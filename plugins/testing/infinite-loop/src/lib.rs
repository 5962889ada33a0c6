//! Breaks by never returning: `poll` spins forever (after sending config
//! `after` records one per poll, default 0), so the host's CPU deadline must
//! interrupt it.

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

struct InfiniteLoop {
    sent: u64,
    after: u64,
}

impl Source for InfiniteLoop {
    fn init(config: Config) -> Result<Self, String> {
        Ok(InfiniteLoop {
            sent: 0,
            after: config.parse("after", 0)?,
        })
    }

    fn poll(&mut self, _max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        if self.sent < self.after {
            let digits = self.sent.to_string();
            out.record()
                .value(b"before the loop")
                .header("seq", digits.as_bytes())
                .finish();
            self.sent += 1;
            return Ok(Poll::Ready);
        }
        let mut spins = 0u64;
        loop {
            // `black_box` keeps the optimiser from proving the loop useless.
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
    }
}

streamplug_sdk::export_source!(InfiniteLoop);
