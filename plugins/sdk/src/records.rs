use streamplug_codec::{BatchReader, RecordRef};

/// The records of an input batch, in order.
///
/// The host only sends well-formed batches: a malformed one makes the
/// iterator panic (a trap) with a message naming the broken rule.
#[derive(Clone)]
pub struct Records<'a> {
    reader: BatchReader<'a>,
    left: u32,
}

impl<'a> Records<'a> {
    /// # Panics
    /// If the batch header is malformed (records are checked as they are read).
    pub fn new(batch: &'a [u8]) -> Self {
        let reader = BatchReader::new(batch)
            .unwrap_or_else(|e| panic!("streamplug-sdk: the host sent a malformed batch: {e}"));
        let left = reader.len();
        Self { reader, left }
    }

    /// Records not yet read.
    pub fn len(&self) -> usize {
        self.left as usize
    }

    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = RecordRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<RecordRef<'a>> {
        match self.reader.next()? {
            Ok(record) => {
                self.left -= 1;
                Some(record)
            }
            Err(e) => panic!("streamplug-sdk: the host sent a malformed batch: {e}"),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl ExactSizeIterator for Records<'_> {}
