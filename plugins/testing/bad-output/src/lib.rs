//! Breaks the batch encoding: every `poll` returns a malformed batch, which
//! the host must reject as invalid output. Config `mode` picks the broken rule:
//! `truncated` (default: a value length of 10 with 4 bytes after it),
//! `trailing` (bytes after the last record), `flags` (a reserved flag bit),
//! `version` (encoding version 2), `count` (the header announces 2 records, 1 follows),
//! or `over_budget` (well formed, but past the poll's byte budget by two
//! records of 1,000 bytes).
//! The SDK's writer only writes well-formed batches, and the SDK refuses one
//! over its budget, so this plugin implements the SDK's low-level
//! `SourceGlue` hook and returns raw bytes.

use streamplug_sdk::__private::{PollOutcome, SourceGlue};
use streamplug_sdk::BatchWriter;

const OVER_BUDGET: &str = "over_budget";

/// A well-formed batch of 1,000-byte values that is still at least two
/// records past `max_bytes` (and has at least 3 records).
pub fn over_budget(max_records: u32, max_bytes: u64) -> Vec<u8> {
    let value = [b'o'; 1000];
    let mut out = BatchWriter::new();
    while out.len() < max_records && (out.len() < 3 || out.encoded_len() as u64 <= max_bytes + 2000)
    {
        out.record().value(&value).finish();
    }
    out.finish()
}

/// The malformed batch for `mode`, or `None` for an unknown mode.
pub fn malformed(mode: &str) -> Option<&'static [u8]> {
    Some(match mode {
        // version 1, count 1 | flags VALUE, value_len 10, 4 bytes.
        "truncated" => &[1, 1, 0, 0, 0, 0x02, 10, 0, 0, 0, b'a', b'b', b'c', b'd'],
        // A complete record with no value and no headers, then 2 stray bytes.
        "trailing" => &[1, 1, 0, 0, 0, 0x00, 0, 0, 0xff, 0xff],
        // flags 0x20 is reserved.
        "flags" => &[1, 1, 0, 0, 0, 0x20, 0, 0],
        "version" => &[2, 1, 0, 0, 0, 0x00, 0, 0],
        // Two records announced, one present.
        "count" => &[1, 2, 0, 0, 0, 0x00, 0, 0],
        _ => return None,
    })
}

pub struct BadOutput {
    batch: Option<&'static [u8]>,
    over_budget: bool,
}

impl SourceGlue for BadOutput {
    const NEW: Self = BadOutput {
        batch: None,
        over_budget: false,
    };

    fn init(
        &mut self,
        config: Vec<(String, String)>,
        _resume_from: Option<Vec<u8>>,
    ) -> Result<(), String> {
        let mode = config
            .iter()
            .find(|(k, _)| k == "mode")
            .map_or("truncated", |(_, v)| v.as_str());
        if mode == OVER_BUDGET {
            self.over_budget = true;
            return Ok(());
        }
        self.batch =
            Some(malformed(mode).ok_or_else(|| format!("config `mode`: unknown mode {mode:?}"))?);
        Ok(())
    }

    fn poll(&mut self, max_records: u32, max_bytes: u64) -> Result<PollOutcome, String> {
        if self.over_budget {
            return Ok(PollOutcome::Records(
                over_budget(max_records, max_bytes),
                None,
            ));
        }
        let batch = self.batch.ok_or("poll called before init")?;
        Ok(PollOutcome::Records(batch.to_vec(), None))
    }
}

streamplug_sdk::export_source!(@glue BadOutput);

#[cfg(test)]
mod tests {
    use streamplug_codec::BatchReader;

    #[test]
    fn every_mode_is_rejected_by_the_codec() {
        for mode in ["truncated", "trailing", "flags", "version", "count"] {
            let batch = super::malformed(mode).unwrap();
            let result = BatchReader::new(batch).and_then(BatchReader::validate);
            assert!(result.is_err(), "{mode} was accepted");
        }
        assert!(super::malformed("nope").is_none());
    }
}
