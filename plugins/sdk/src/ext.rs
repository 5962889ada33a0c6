use streamplug_codec::{BatchWriter, HeaderBuilder, RecordBuilder, RecordRef};

/// Conveniences on [`BatchWriter`].
pub trait BatchWriterExt {
    /// Appends a copy of `record` whose topic is `topic` when given (the
    /// record's own otherwise), with `extra_headers` after its own headers.
    /// Key, value, timestamp, partition and headers are kept as they are.
    fn push_with(
        &mut self,
        record: &RecordRef<'_>,
        topic: Option<&str>,
        extra_headers: &[(&str, &[u8])],
    );
}

impl BatchWriterExt for BatchWriter {
    #[inline]
    fn push_with(
        &mut self,
        record: &RecordRef<'_>,
        topic: Option<&str>,
        extra_headers: &[(&str, &[u8])],
    ) {
        let mut b = self.record();
        if let Some(key) = record.key {
            b = b.key(key);
        }
        if let Some(value) = record.value {
            b = b.value(value);
        }
        if let Some(ts) = record.timestamp {
            b = b.timestamp(ts);
        }
        if let Some(p) = record.partition {
            b = b.partition(p);
        }
        if let Some(t) = topic.or(record.topic) {
            b = b.topic(t);
        }
        let mut stage = Stage::Fields(b);
        for (name, value) in record.headers {
            stage = stage.header(name, value);
        }
        for (name, value) in extra_headers {
            stage = stage.header(name, value);
        }
        stage.finish();
    }
}

/// A record being built, before or after its first header.
enum Stage<'w> {
    Fields(RecordBuilder<'w>),
    Headers(HeaderBuilder<'w>),
}

impl Stage<'_> {
    #[inline]
    fn header(self, name: &str, value: &[u8]) -> Self {
        match self {
            Stage::Fields(b) => Stage::Headers(b.header(name, value)),
            Stage::Headers(h) => Stage::Headers(h.header(name, value)),
        }
    }

    #[inline]
    fn finish(self) {
        match self {
            Stage::Fields(b) => b.finish(),
            Stage::Headers(h) => h.finish(),
        }
    }
}
