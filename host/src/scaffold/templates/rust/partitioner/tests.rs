//! Unit tests, run natively with `cargo test` (no WebAssembly needed).

use streamplug_sdk::testing::{Record, TestPartitioner};

use super::__TYPE__;

#[test]
fn a_key_always_goes_to_the_same_partition() {
    let mut p = TestPartitioner::<__TYPE__>::start(&[]).unwrap();
    let input = [
        Record::new().with_key("user-1"),
        Record::new().with_key("user-2"),
        Record::new().with_key("user-1"),
    ];
    let chosen = p.partition("events", 6, &input).unwrap();
    assert_eq!(chosen.len(), 3);
    assert_eq!(chosen[0], chosen[2]);
    assert!(chosen.iter().all(|&c| c < 6));
}

#[test]
fn records_without_a_key_take_turns() {
    let mut p = TestPartitioner::<__TYPE__>::start(&[]).unwrap();
    let chosen = p.partition(
        "events",
        3,
        &[Record::new(), Record::new(), Record::new(), Record::new()],
    );
    assert_eq!(chosen.unwrap(), [0, 1, 2, 0]);
}
