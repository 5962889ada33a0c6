//! Adds a header `mark` to every record, naming this build of the plugin.
//!
//! The mark is the text after `STREAMPLUG-MARK:` in a 16-byte constant. The
//! hot-reload tests make other versions of this plugin by rewriting that
//! constant in the `.wasm` file (same length, so the component stays valid):
//! a mark starting with `TRAPINIT` panics in `init`, one starting with
//! `TRAPCALL` panics on its first batch.

use std::hint::black_box;

use streamplug_sdk::{BatchWriter, BatchWriterExt, Config, Records, Transform};

/// Exactly one copy in the binary, found and rewritten by the tests.
static MARK: [u8; 32] = *b"STREAMPLUG-MARK:v1______________";

struct Mark {
    mark: Vec<u8>,
}

impl Transform for Mark {
    fn init(_config: Config) -> Result<Self, String> {
        // Read through a black box so the compiler cannot fold the constant
        // into code: it must stay one rewritable string.
        let raw: &[u8; 32] = black_box(&MARK);
        let mark: Vec<u8> = raw[16..].iter().copied().filter(|b| *b != b'_').collect();
        if mark.starts_with(b"TRAPINIT") {
            panic!("this version traps on init");
        }
        Ok(Mark { mark })
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        if self.mark.starts_with(b"TRAPCALL") {
            panic!("this version traps on its first batch");
        }
        let mark = self.mark.as_slice();
        input.for_each(|r| out.push_with(&r, None, &[("mark", mark)]));
        Ok(())
    }
}

streamplug_sdk::export_transform!(Mark);
