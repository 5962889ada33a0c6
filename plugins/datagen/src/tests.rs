use super::*;
use std::time::Duration;
use streamplug_sdk::codec::BatchReader;

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().copied().collect()
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_config(&config(pairs)).unwrap()
}

/// Decodes a batch into owned (key, value, timestamp, headers).
type Owned = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
    Vec<(String, Vec<u8>)>,
);

fn decode(batch: &[u8]) -> Vec<Owned> {
    BatchReader::new(batch)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!((r.partition, r.topic), (None, None));
            (
                r.key.map(<[u8]>::to_vec),
                r.value.map(<[u8]>::to_vec),
                r.timestamp,
                r.headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_vec()))
                    .collect(),
            )
        })
        .collect()
}

fn poll(d: &mut Datagen, now: Instant, max: u32) -> (Poll, Vec<Owned>) {
    let mut out = BatchWriter::new();
    let poll = d.poll_at(now, || 1_700_000_000_000, max, &mut out);
    (poll, decode(&out.finish()))
}

#[test]
fn formulas_by_hand() {
    let p = params(&[
        ("value_size", "5"),
        ("key_cardinality", "10"),
        ("timestamp", "1000"),
    ]);
    let r = expected_record(&p, 27);
    assert_eq!(r.key.as_deref(), Some(&b"key-7"[..]));
    // (27 + i) % 26 = 1, 2, 3, 4, 5
    assert_eq!(r.value, b"bcdef");
    assert_eq!(r.timestamp, Some(1027));
    assert_eq!(r.seq_header, b"27");

    let p = params(&[
        ("format", "json"),
        ("value_size", "50"),
        ("key_cardinality", "0"),
    ]);
    let r = expected_record(&p, 4);
    assert_eq!(r.key, None);
    assert_eq!(
        r.value,
        br#"{"seq":4,"kind":"view","pad":"xxxxxxxxxxxxxxxxxx"}"#
    );
    assert_eq!(r.value.len(), 50);
    let p = params(&[("format", "json"), ("value_size", "10")]);
    assert_eq!(
        expected_record(&p, 12345).value,
        br#"{"seq":12345,"kind":"click","pad":""}"#
    );
}

#[test]
fn generator_matches_the_formulas() {
    for pairs in [
        &[][..],
        &[
            ("value_size", "0"),
            ("key_cardinality", "0"),
            ("timestamp", "none"),
        ],
        &[
            ("value_size", "7"),
            ("key_cardinality", "3"),
            ("timestamp", "-50"),
        ],
        &[
            ("format", "json"),
            ("value_size", "100"),
            ("key_cardinality", "1"),
        ],
        &[("format", "json"), ("value_size", "0")],
    ] {
        let p = params(pairs);
        let mut g = Generator::new(p.clone());
        let seqs = [0, 1, 2, 25, 26, 27, 99, 1000, 123_456_789, u64::MAX / 2];
        let mut out = BatchWriter::new();
        for &seq in &seqs {
            g.write(seq, 42, &mut out);
        }
        let got = decode(&out.finish());
        for (&seq, (key, value, ts, headers)) in seqs.iter().zip(got) {
            let e = expected_record(&p, seq);
            assert_eq!(key, e.key, "{pairs:?} seq {seq}");
            assert_eq!(value.as_deref(), Some(&e.value[..]), "{pairs:?} seq {seq}");
            let want_ts = if p.timestamp == Timestamp::Now {
                Some(42)
            } else {
                e.timestamp
            };
            assert_eq!(ts, want_ts);
            assert_eq!(headers, [("seq".to_string(), seq.to_string().into_bytes())]);
        }
    }
}

#[test]
fn count_start_and_finished() {
    let mut d = Datagen::new(params(&[
        ("count", "5"),
        ("start", "100"),
        ("timestamp", "0"),
    ]));
    let t = Instant::now();
    let (p1, r1) = poll(&mut d, t, 3);
    assert_eq!(p1, Poll::Ready);
    let (p2, r2) = poll(&mut d, t, 3);
    assert_eq!(p2, Poll::Finished);
    let seqs: Vec<_> = r1.iter().chain(&r2).map(|r| r.2.unwrap()).collect();
    assert_eq!(seqs, [100, 101, 102, 103, 104]);
    assert_eq!(poll(&mut d, t, 3), (Poll::Finished, vec![]));

    let mut d = Datagen::new(params(&[("count", "0")]));
    assert_eq!(poll(&mut d, t, 3), (Poll::Finished, vec![]));
}

#[test]
fn wall_clock_timestamp_is_read_per_poll() {
    let mut d = Datagen::new(params(&[]));
    let (_, recs) = poll(&mut d, Instant::now(), 4);
    assert_eq!(recs.len(), 4);
    assert!(recs.iter().all(|r| r.2 == Some(1_700_000_000_000)));
}

#[test]
fn rate_paces_records() {
    let mut d = Datagen::new(params(&[("rate", "100"), ("timestamp", "none")])); // one every 10 ms
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    // At the start one record is due.
    assert_eq!(poll(&mut d, at(0), 50).1.len(), 1);
    // The next one is due at 10 ms.
    assert_eq!(poll(&mut d, at(0), 50).0, Poll::Idle(10));
    assert_eq!(poll(&mut d, at(4), 50).0, Poll::Idle(6));
    // By 95 ms records 0..=9 are due: 9 more.
    assert_eq!(poll(&mut d, at(95), 50).1.len(), 9);
    // Ahead of schedule again: record 10 is due at 100 ms.
    assert_eq!(poll(&mut d, at(95), 50).0, Poll::Idle(5));
    // Far behind: capped by max_records.
    assert_eq!(poll(&mut d, at(10_000), 50).1.len(), 50);
}

#[test]
fn config_errors() {
    let err = |pairs: &[(&str, &str)]| Params::from_config(&config(pairs)).unwrap_err();
    assert_eq!(
        err(&[("count", "abc")]),
        "config `count`: invalid digit found in string (got \"abc\")"
    );
    assert!(err(&[("rate", "-1")]).contains("`rate`"));
    assert!(err(&[("format", "xml")]).contains("`format`"));
    assert!(err(&[("timestamp", "later")]).contains("`timestamp`"));
    assert!(err(&[("valuesize", "1")]).contains("`valuesize` is not a known setting"));
    assert_eq!(params(&[]), Params::default());
}

#[test]
fn decimal() {
    for n in [0, 7, 10, 99, 100, 4_294_967_296, u64::MAX] {
        let mut buf = [0u8; 20];
        let at = write_decimal(n, &mut buf);
        assert_eq!(&buf[at..], n.to_string().as_bytes());
    }
}

#[test]
fn random_values_are_splitmix64_by_seq() {
    // splitmix64's first outputs from state 0 (its reference sequence).
    let mut v = Vec::new();
    random_value(0, 12, &mut v);
    let mut want = 0xE220_A839_7B1D_CDAFu64.to_le_bytes().to_vec();
    want.extend_from_slice(&0x6E78_9E6A_A1B9_65F4u64.to_le_bytes()[..4]);
    assert_eq!(v, want);
    let p = params(&[("format", "random"), ("value_size", "1000")]);
    let (a, b) = (expected_record(&p, 1).value, expected_record(&p, 2).value);
    assert_eq!((a.len(), b.len()), (1000, 1000));
    assert_ne!(a, b);
    let mut g = Generator::new(p.clone());
    let mut out = BatchWriter::new();
    g.write(1, 0, &mut out);
    g.write(2, 0, &mut out);
    let got = decode(&out.finish());
    assert_eq!(got[0].1.as_deref(), Some(&a[..]));
    assert_eq!(got[1].1.as_deref(), Some(&b[..]));
}
