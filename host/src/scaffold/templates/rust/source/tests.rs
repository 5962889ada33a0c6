//! Unit tests, run natively with `cargo test` (no WebAssembly needed).

use streamplug_sdk::testing::{Polled, TestSource};

use super::__TYPE__;

#[test]
fn makes_count_records_then_finishes() {
    let mut source = TestSource::<__TYPE__>::start(&[("count", "3"), ("kind", "click")]).unwrap();
    let records = source.take(100).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].key_str(), Some("key-2"));
    assert_eq!(records[2].value_str(), Some(r#"{"seq":2,"kind":"click"}"#));
    assert_eq!(records[2].header_str("seq"), Some("2"));
    assert_eq!(source.poll(100).unwrap(), Polled::Finished);
}

#[test]
fn a_new_instance_resumes_after_the_checkpoint() {
    let mut first = TestSource::<__TYPE__>::start(&[("count", "5")]).unwrap();
    assert_eq!(first.take(2).unwrap().len(), 2);
    let checkpoint = first.checkpoint().unwrap().to_vec();
    let mut next = TestSource::<__TYPE__>::resume(&[("count", "5")], &checkpoint).unwrap();
    let rest = next.take(100).unwrap();
    let seqs: Vec<_> = rest.iter().map(|r| r.header_str("seq").unwrap()).collect();
    assert_eq!(seqs, ["2", "3", "4"]);
}

#[test]
fn a_typo_in_the_config_is_an_error() {
    let err = TestSource::<__TYPE__>::start(&[("cuont", "3")])
        .err()
        .unwrap();
    assert!(err.contains("`cuont` is not a known setting"), "{err}");
}
