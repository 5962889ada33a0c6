//! Breaks size limits: emits config `count` records (default 1) whose value
//! is config `value_size` bytes (default 2 MiB), more than Kafka's default
//! 1 MB message size, so the host's and the producer's limits are exercised.
//! Each record has the header `seq`; the value is `value_size` bytes of `b`.

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

struct BigRecord {
    value: Vec<u8>,
    left: u64,
    seq: u64,
}

impl Source for BigRecord {
    fn init(config: Config) -> Result<Self, String> {
        let size: usize = config.parse("value_size", 2 << 20)?;
        Ok(BigRecord {
            value: vec![b'b'; size],
            left: config.parse("count", 1)?,
            seq: 0,
        })
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        let mut n = 0;
        while n < max_records && self.left > 0 && !out.is_full() {
            let digits = self.seq.to_string();
            out.record()
                .value(&self.value)
                .header("seq", digits.as_bytes())
                .finish();
            self.seq += 1;
            self.left -= 1;
            n += 1;
        }
        Ok(if self.left == 0 {
            Poll::Finished
        } else {
            Poll::Ready
        })
    }
}

streamplug_sdk::export_source!(BigRecord);
