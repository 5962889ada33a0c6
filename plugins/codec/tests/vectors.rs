//! The shared test vectors of `wit/test-vectors/`: batches made by this codec,
//! which every other SDK (C, Python, JavaScript, Go) decodes in its own unit
//! tests and compares with the `.txt` description beside each, and invalid
//! batches whose `.err` holds the message this codec gives.
//!
//! This test fails when the checked-in files differ from what the codec makes
//! today; `STREAMPLUG_REGENERATE_VECTORS=1 cargo test -p streamplug-codec
//! --test vectors` rewrites them.

use std::fmt::Write as _;
use std::path::PathBuf;

use streamplug_codec::{BatchReader, BatchWriter, RecordRef};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit/test-vectors")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn opt_hex(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(|| "null".to_string(), hex)
}

/// One line per record; the format the other SDKs' tests print too.
fn describe(batch: &[u8]) -> String {
    let mut out = String::new();
    for record in BatchReader::new(batch).expect("a valid vector") {
        let r: RecordRef<'_> = record.expect("a valid vector");
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|(name, value)| format!("{}={}", hex(name.as_bytes()), hex(value)))
            .collect();
        let _ = writeln!(
            out,
            "key={} value={} timestamp={} partition={} topic={} headers=[{}]",
            opt_hex(r.key),
            opt_hex(r.value),
            r.timestamp.map_or("none".to_string(), |t| t.to_string()),
            r.partition.map_or("none".to_string(), |p| p.to_string()),
            opt_hex(r.topic.map(str::as_bytes)),
            headers.join(",")
        );
    }
    out
}

fn example() -> Vec<u8> {
    let mut w = BatchWriter::new();
    w.record()
        .key(b"k")
        .value(b"v1")
        .timestamp(1000)
        .header("seq", b"7")
        .finish();
    w.finish()
}

fn mixed() -> Vec<u8> {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let mut w = BatchWriter::new();
    // Nothing at all: a null key, a tombstone, no headers.
    w.record().finish();
    // A tombstone for a key.
    w.record().key(b"gone").finish();
    // Empty (not null) key and value.
    w.record().key(b"").value(b"").finish();
    w.record()
        .value(&all_bytes)
        .timestamp(-1)
        .partition(3)
        .topic("t\u{f8}pic-\u{1f600}")
        .finish();
    w.record()
        .key(b"\x00\xff")
        .value(b"{\"a\":1}")
        .timestamp(i64::MAX)
        .partition(i32::MAX)
        .topic("")
        .header("dup", b"1")
        .header("dup", b"")
        .header("", b"empty name")
        .header("n\u{e4}me", &all_bytes)
        .finish();
    w.record().timestamp(i64::MIN).finish();
    w.finish()
}

fn many() -> Vec<u8> {
    let mut w = BatchWriter::new();
    for i in 0..300u32 {
        let key = (i % 7).to_string();
        let value = "x".repeat((i % 50) as usize);
        let seq = i.to_string();
        let r = w.record().key(key.as_bytes()).value(value.as_bytes());
        let r = if i % 3 == 0 {
            r.timestamp(1_700_000_000_000 + i64::from(i))
        } else {
            r
        };
        r.header("seq", seq.as_bytes()).finish();
    }
    w.finish()
}

/// Valid vectors: (name, batch).
fn valid() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", BatchWriter::new().finish()),
        ("example", example()),
        ("mixed", mixed()),
        ("many", many()),
    ]
}

/// Invalid vectors: (name, bytes).
fn invalid() -> Vec<(&'static str, Vec<u8>)> {
    let ex = example();
    let mut wrong_version = ex.clone();
    wrong_version[0] = 2;
    let mut reserved = ex.clone();
    reserved[5] |= 0x20;
    let mut count_too_high = ex.clone();
    count_too_high[1] = 2;
    let mut trailing = ex.clone();
    trailing.extend_from_slice(&[0, 0]);
    let mut bad_topic = BatchWriter::new();
    bad_topic.record().topic("ab").finish();
    let mut bad_topic = bad_topic.finish();
    let at = bad_topic.len() - 4;
    bad_topic[at] = 0xff;
    let mut bad_header = BatchWriter::new();
    bad_header.record().header("hé", b"v").finish();
    let mut bad_header = bad_header.finish();
    let at = bad_header.len() - 7;
    bad_header[at] = 0xc3;
    bad_header[at + 1] = 0x28;
    vec![
        ("bad-nothing", Vec::new()),
        ("bad-short-header", vec![1, 0, 0]),
        ("bad-version", wrong_version),
        ("bad-reserved-flags", reserved),
        ("bad-count-too-high", count_too_high),
        ("bad-truncated", ex[..ex.len() - 20].to_vec()),
        ("bad-trailing-bytes", trailing),
        ("bad-topic-utf8", bad_topic),
        ("bad-header-utf8", bad_header),
    ]
}

fn first_error(bytes: &[u8]) -> String {
    match BatchReader::new(bytes) {
        Err(e) => e.to_string(),
        Ok(reader) => match reader.validate() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("an invalid vector decodes"),
        },
    }
}

fn files() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (name, batch) in valid() {
        files.push((format!("{name}.txt"), describe(&batch).into_bytes()));
        files.push((format!("{name}.bin"), batch));
    }
    for (name, bytes) in invalid() {
        files.push((
            format!("{name}.err"),
            format!("{}\n", first_error(&bytes)).into_bytes(),
        ));
        files.push((format!("{name}.bin"), bytes));
    }
    files
}

#[test]
fn the_example_of_encoding_md_is_the_example_vector() {
    let expected: &[u8] = &[
        0x01, 0x01, 0, 0, 0, 0x07, 0x01, 0, 0, 0, b'k', 0x02, 0, 0, 0, b'v', b'1', 0xe8, 0x03, 0,
        0, 0, 0, 0, 0, 0x01, 0, 0x03, 0, b's', b'e', b'q', 0x01, 0, 0, 0, b'7',
    ];
    assert_eq!(example(), expected);
}

#[test]
fn checked_in_vectors_match_the_codec() {
    let dir = dir();
    let regenerate = std::env::var_os("STREAMPLUG_REGENERATE_VECTORS").is_some();
    for (name, bytes) in files() {
        let path = dir.join(&name);
        if regenerate {
            std::fs::write(&path, &bytes).expect("cannot write a vector");
            continue;
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with STREAMPLUG_REGENERATE_VECTORS=1",
                path.display()
            )
        });
        assert!(
            on_disk == bytes,
            "{} differs from what the codec makes; regenerate with STREAMPLUG_REGENERATE_VECTORS=1",
            path.display()
        );
    }
}
