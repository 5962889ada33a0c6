//! Unit tests, run natively with `cargo test` (no WebAssembly needed).

use streamplug_sdk::testing::{Record, TestTransform};

use super::__TYPE__;

#[test]
fn drops_matches_tags_the_rest_and_keeps_tombstones() {
    let mut t = TestTransform::<__TYPE__>::start(&[("drop_if", "spam"), ("tag", "t1")]).unwrap();
    let input = [
        Record::new()
            .with_key("user-1")
            .with_value(r#"{"action":"buy"}"#)
            .with_header("source", "web"),
        Record::new()
            .with_key("user-2")
            .with_value(r#"{"action":"spam"}"#),
        Record::new().with_key("user-3"),
    ];
    let out = t.process(&input).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].key_str(), Some("user-1"));
    assert_eq!(out[0].value_str(), Some(r#"{"action":"buy"}"#));
    assert_eq!(
        out[0].headers,
        [
            ("source".to_string(), b"web".to_vec()),
            ("tagged-by".to_string(), b"t1".to_vec())
        ]
    );
    // The tombstone passes unchanged: no value, no header added.
    assert_eq!(out[1], input[2]);
}

#[test]
fn a_typo_in_the_config_is_an_error() {
    let err = TestTransform::<__TYPE__>::start(&[("drop-if", "x")])
        .err()
        .unwrap();
    assert!(err.contains("`drop-if` is not a known setting"), "{err}");
}
