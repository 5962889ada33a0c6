//! Floods the host's log: a mini datagen (key `key-<seq>`, value
//! `0123456789`, header `seq`) that also writes `lines` log lines (config,
//! default 1,000,000) through the `log` import, `lines_per_poll` of them
//! (default 20,000) in each poll beside its records, every tenth to stdout
//! instead. Its first line is `long_line` bytes long (default 100,000), to
//! test the cap on a line's length. It finishes when it has made `count`
//! records (default 1,000) and written every line.

use streamplug_sdk::{BatchWriter, Config, Poll, Source, log};

struct Chatty {
    next: u64,
    count: u64,
    written: u64,
    lines: u64,
    lines_per_poll: u64,
    long_line: usize,
}

impl Source for Chatty {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Chatty {
            next: 0,
            count: config.parse("count", 1000)?,
            written: 0,
            lines: config.parse("lines", 1_000_000)?,
            lines_per_poll: config.parse("lines_per_poll", 20_000)?,
            long_line: config.parse("long_line", 100_000)?,
        })
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        let until = (self.written + self.lines_per_poll).min(self.lines);
        while self.written < until {
            if self.written == 0 && self.long_line > 0 {
                log::warn(&format!("long line {}", "x".repeat(self.long_line)));
            } else if self.written % 10 == 9 {
                println!("chatty stdout line {}", self.written);
            } else {
                log::info(&format!("chatty line {}", self.written));
            }
            self.written += 1;
        }
        for _ in 0..max_records {
            if self.next == self.count {
                break;
            }
            let seq = self.next;
            let key = format!("key-{seq}");
            let digits = seq.to_string();
            out.record()
                .key(key.as_bytes())
                .value(b"0123456789")
                .header("seq", digits.as_bytes())
                .finish();
            self.next += 1;
        }
        if self.next == self.count && self.written == self.lines {
            return Ok(Poll::Finished);
        }
        Ok(Poll::Ready)
    }
}

streamplug_sdk::export_source!(Chatty);
