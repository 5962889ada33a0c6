//! Paces itself the way a newcomer would: `std::thread::sleep` inside
//! `poll` (default: an hour), instead of returning `Poll::Idle(ms)`. The
//! host must not let that sleep outlast the call's time limit or a stop.

use std::time::Duration;

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

struct Sleepy {
    sleep: Duration,
}

impl Source for Sleepy {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Sleepy {
            sleep: Duration::from_millis(config.parse("sleep_ms", 3_600_000)?),
        })
    }

    fn poll(&mut self, _max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        std::thread::sleep(self.sleep);
        out.record().value(b"woke up").finish();
        Ok(Poll::Ready)
    }
}

streamplug_sdk::export_source!(Sleepy);
