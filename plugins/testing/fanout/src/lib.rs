//! Breaks the 1:N bound a reasonable transform keeps: every input record
//! comes out `factor` times (default 1,000,000), each copy with a `copy`
//! header. Either its memory limit stops it or the host must absorb the
//! flood within its in-flight caps without starving anyone else.

use streamplug_sdk::{BatchWriter, Config, Records, Transform};

struct Fanout {
    factor: u64,
}

impl Transform for Fanout {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Fanout {
            factor: config.parse("factor", 1_000_000)?,
        })
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        for record in input {
            for copy in 0..self.factor {
                let n = copy.to_le_bytes();
                let mut r = out.record();
                if let Some(k) = record.key {
                    r = r.key(k);
                }
                if let Some(v) = record.value {
                    r = r.value(v);
                }
                r.header("copy", &n).finish();
            }
        }
        Ok(())
    }
}

streamplug_sdk::export_transform!(Fanout);
