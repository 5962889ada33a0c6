use super::*;
use alloc::vec;
use alloc::vec::Vec;

#[test]
fn spec_example_bytes_match() {
    let mut w = BatchWriter::new();
    w.record()
        .key(b"k")
        .value(b"v1")
        .timestamp(1000)
        .header("seq", b"7")
        .finish();
    let expected: Vec<u8> = vec![
        0x01, 0x01, 0, 0, 0,    // version, count
        0x07, // flags
        1, 0, 0, 0, b'k', // key
        2, 0, 0, 0, b'v', b'1', // value
        0xe8, 0x03, 0, 0, 0, 0, 0, 0, // timestamp
        1, 0, // header count
        3, 0, b's', b'e', b'q', 1, 0, 0, 0, b'7',
    ];
    assert_eq!(w.finish(), expected);
}

#[test]
fn round_trip_keeps_every_field_and_header_order() {
    let mut w = BatchWriter::with_capacity(256);
    w.record()
        .key(b"")
        .value(b"hello")
        .timestamp(-5)
        .partition(3)
        .topic("other")
        .header("a", b"1")
        .header("b", b"")
        .header("a", b"2")
        .finish();
    w.record().finish(); // null key, tombstone, nothing else
    let bytes = w.finish();
    let records: Vec<_> = BatchReader::new(&bytes)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 2);
    let r = &records[0];
    assert_eq!(r.key, Some(&b""[..]));
    assert_eq!(r.value, Some(&b"hello"[..]));
    assert_eq!(
        (r.timestamp, r.partition, r.topic),
        (Some(-5), Some(3), Some("other"))
    );
    let headers: Vec<_> = r.headers.iter().collect();
    assert_eq!(
        headers,
        vec![("a", &b"1"[..]), ("b", &b""[..]), ("a", &b"2"[..])]
    );
    assert_eq!(r.headers.get("a"), Some(&b"1"[..]));
    assert_eq!(r.payload_len(), 5 + 3 + 2);
    let t = &records[1];
    assert_eq!(
        (t.key, t.value, t.timestamp, t.partition, t.topic),
        (None, None, None, None, None)
    );
    assert!(t.headers.is_empty());
}

#[test]
fn push_copies_a_record_exactly() {
    let mut w = BatchWriter::new();
    w.record()
        .key(b"k")
        .value(b"v")
        .partition(1)
        .header("h", b"x")
        .finish();
    let a = w.finish();
    let mut copy = BatchWriter::new();
    for r in BatchReader::new(&a).unwrap() {
        copy.push(&r.unwrap());
    }
    assert_eq!(copy.finish(), a);
}

#[test]
fn empty_batch_is_valid() {
    let bytes = BatchWriter::new().finish();
    assert_eq!(BatchReader::new(&bytes).unwrap().validate(), Ok(0));
}

fn error_of(bytes: &[u8]) -> DecodeError {
    match BatchReader::new(bytes) {
        Err(e) => e,
        Ok(r) => r.validate().unwrap_err(),
    }
}

#[test]
fn malformed_batches_name_the_rule_and_offset() {
    assert_eq!(
        error_of(&[]).kind,
        DecodeErrorKind::Truncated {
            field: "batch header",
            needed: 5,
            left: 0
        }
    );
    assert_eq!(
        error_of(&[2, 0, 0, 0, 0]).kind,
        DecodeErrorKind::UnsupportedVersion(2)
    );

    // Count says two, one present.
    let mut w = BatchWriter::new();
    w.record().value(b"abc").finish();
    let mut bytes = w.finish();
    bytes[1] = 2;
    let e = error_of(&bytes);
    assert_eq!((e.record, e.offset), (Some(1), bytes.len()));
    assert_eq!(
        e.kind,
        DecodeErrorKind::Truncated {
            field: "flags",
            needed: 1,
            left: 0
        }
    );

    // Value length larger than what is left.
    let mut w = BatchWriter::new();
    w.record().value(b"abc").finish();
    let mut bytes = w.finish();
    bytes[6] = 200;
    let e = error_of(&bytes);
    assert_eq!(
        e.kind,
        DecodeErrorKind::Truncated {
            field: "value",
            needed: 200,
            left: 5
        }
    );
    assert!(alloc::format!("{e}").contains("record 0 at byte 10: truncated value"));

    // Trailing garbage after the last record.
    let mut bytes = BatchWriter::new().finish();
    bytes.push(0);
    assert_eq!(error_of(&bytes).kind, DecodeErrorKind::TrailingBytes(1));

    // Reserved flag bit.
    assert_eq!(
        error_of(&[1, 1, 0, 0, 0, 0x80]).kind,
        DecodeErrorKind::ReservedFlags(0x80)
    );

    // Invalid UTF-8 in a header name.
    let bytes = [1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0xff, 0, 0, 0, 0];
    assert_eq!(
        error_of(&bytes).kind,
        DecodeErrorKind::InvalidUtf8 {
            field: "header name"
        }
    );
}

#[test]
fn reader_stops_after_first_error() {
    let bytes = [1, 3, 0, 0, 0, 0x80];
    let results: Vec<_> = BatchReader::new(&bytes).unwrap().collect();
    assert_eq!(results.len(), 1);
    assert!(results[0].is_err());
}
