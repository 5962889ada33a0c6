//! The three limits on one record's size agree: a source's
//! `max_record_bytes` (the host's own check), the producer's
//! `message.max.bytes` (librdkafka refuses a larger record before it is
//! sent) and a topic's `max.message.bytes` (the broker refuses a larger
//! batch). A record the host lets through must fit the other two, or it
//! would be counted as failed for a reason the config could have told.

use std::ops::Range;

use super::Config;

/// librdkafka's default `message.max.bytes`.
const LIBRDKAFKA_DEFAULT: u64 = 1_000_000;

/// What a record costs on the wire besides its key, value and headers:
/// librdkafka's per-record maximum (36 bytes of varints and attributes) and
/// a batch header (61 bytes), rounded up for the headers' varints.
pub const RECORD_OVERHEAD: u64 = 512;

/// Checked when one side of a pair is written in the file: with both left
/// at their defaults (1 MiB and librdkafka's 1,000,000) a record just under
/// 1 MiB is refused by the producer, as it always has been.
pub fn check(config: &Config, at: &dyn Fn(Range<usize>) -> usize) -> Result<(), String> {
    let property = config.kafka.properties.get("message.max.bytes");
    let producer = match property {
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            format!("[kafka] properties: `message.max.bytes` = `{v}` is not a number of bytes")
        })?,
        None => LIBRDKAFKA_DEFAULT,
    };
    for s in &config.sources {
        let limit = s.max_record_bytes.get_ref().0;
        let written = !s.max_record_bytes.span().is_empty();
        let source = || {
            let line = if written {
                at(s.max_record_bytes.span())
            } else {
                at(s.name.span())
            };
            format!(
                "source `{}` (line {line}): `max_record_bytes` = {limit}{}",
                s.name.get_ref(),
                if written { "" } else { " (the default)" }
            )
        };
        if (written || property.is_some()) && limit + RECORD_OVERHEAD > producer {
            return Err(format!(
                "{} does not fit the producer's `message.max.bytes` = {producer}{} ([kafka] properties) with {RECORD_OVERHEAD} bytes of record overhead: raise `message.max.bytes` to at least {} or lower `max_record_bytes`",
                source(),
                if property.is_some() {
                    ""
                } else {
                    " (librdkafka's default)"
                },
                limit + RECORD_OVERHEAD
            ));
        }
        let topic = s.topic_config.get("max.message.bytes");
        if let (true, Some(v)) = (written, topic) {
            let broker = v.trim().parse::<u64>().map_err(|_| {
                format!(
                    "source `{}`: topic_config `max.message.bytes` = `{v}` is not a number of bytes",
                    s.name.get_ref()
                )
            })?;
            if limit + RECORD_OVERHEAD > broker {
                return Err(format!(
                    "{} does not fit topic `{}`'s `max.message.bytes` = {broker} (topic_config) with {RECORD_OVERHEAD} bytes of record overhead: raise `max.message.bytes` to at least {} or lower `max_record_bytes`",
                    source(),
                    s.topic.get_ref(),
                    limit + RECORD_OVERHEAD
                ));
            }
        }
    }
    Ok(())
}
