//! `__NAME__`: a streamplug transform. This example drops the records whose
//! value contains `drop_if`, tags the others with a header, and passes
//! tombstones (records without a value) through as they are.

use streamplug_sdk::{BatchWriter, BatchWriterExt, Config, Records, Transform};

pub struct __TYPE__ {
    /// Records whose value contains these bytes are dropped.
    drop_if: Option<String>,
    /// The value of the `tagged-by` header added to each record kept.
    tag: String,
}

impl Transform for __TYPE__ {
    /// Called once per instance with the plugin's `config` table. An error
    /// here (a missing or malformed setting) stops the plugin with that message.
    fn init(config: Config) -> Result<Self, String> {
        // A typo in the config is an error, not a silently ignored setting.
        config.deny_unknown(&["drop_if", "tag"])?;
        Ok(Self {
            drop_if: config.get("drop_if").map(str::to_string),
            tag: config.get("tag").unwrap_or("__NAME__").to_string(),
        })
    }

    /// Reads a batch of records and writes what comes out to `out`: none,
    /// one or many records for each record in. Key, value, timestamp,
    /// partition, topic and headers are all the plugin's to set.
    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        for record in input {
            let Some(value) = record.value else {
                // A tombstone (a key without a value) deletes its key from a
                // compacted topic: pass it on unchanged.
                out.push(&record);
                continue;
            };
            if let Some(needle) = &self.drop_if
                && contains(value, needle.as_bytes())
            {
                continue;
            }
            // A copy of the record with one more header after its own. The
            // second argument would route it to another topic (one listed in
            // the transform's `topics` in the host's config).
            out.push_with(&record, None, &[("tagged-by", self.tag.as_bytes())]);
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

streamplug_sdk::export_transform!(__TYPE__);

#[cfg(test)]
mod tests;
