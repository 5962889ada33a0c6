//! Breaks by trapping: a mini datagen (key `key-<seq>`, value `0123456789`,
//! header `seq`) that panics when it reaches record `n` (config, default 1000).
//! The batch before it ends at record `n - 1`, so exactly records `start..n`
//! are sent before the trap, and the host must restart the plugin. A new
//! instance starts again from seq 0, or from config `start`.

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

struct PanicOnNth {
    next: u64,
    n: u64,
}

impl Source for PanicOnNth {
    fn init(config: Config) -> Result<Self, String> {
        Ok(PanicOnNth {
            next: config.parse("start", 0)?,
            n: config.parse("n", 1000)?,
        })
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        for _ in 0..max_records {
            let seq = self.next;
            if seq == self.n {
                if !out.is_empty() {
                    break; // send what comes before record n first
                }
                panic!("panic-on-nth: reached record {seq}, as configured");
            }
            let key = format!("key-{seq}");
            let digits = seq.to_string();
            out.record()
                .key(key.as_bytes())
                .value(b"0123456789")
                .header("seq", digits.as_bytes())
                .finish();
            self.next += 1;
        }
        Ok(Poll::Ready)
    }
}

streamplug_sdk::export_source!(PanicOnNth);
