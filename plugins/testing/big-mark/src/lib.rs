//! The `mark` test plugin's behaviour (a header `mark` on every record,
//! rewritable in the `.wasm` file) in a component of about 1 MB of code:
//! the swap-latency benchmark's plugin.

use std::hint::black_box;

use streamplug_sdk::{BatchWriter, BatchWriterExt, Config, Records, Transform};

include!(concat!(env!("OUT_DIR"), "/big.rs"));

static MARK: [u8; 32] = *b"STREAMPLUG-MARK:v1______________";

struct BigMark {
    mark: Vec<u8>,
}

impl Transform for BigMark {
    fn init(_config: Config) -> Result<Self, String> {
        let raw: &[u8; 32] = black_box(&MARK);
        let mark = raw[16..].iter().copied().filter(|b| *b != b'_').collect();
        // Every generated function is reachable through the table.
        let pick = black_box(7usize) % FUNCTIONS.len();
        black_box(FUNCTIONS[pick](pick as u64));
        Ok(BigMark { mark })
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        let mark = self.mark.as_slice();
        input.for_each(|r| out.push_with(&r, None, &[("mark", mark)]));
        Ok(())
    }
}

streamplug_sdk::export_transform!(BigMark);
