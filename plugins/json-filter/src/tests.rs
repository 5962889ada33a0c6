use super::*;
use streamplug_sdk::codec::BatchReader;
use streamplug_sdk::log::{self, Level};

fn filter(pairs: &[(&str, &str)]) -> JsonFilter {
    JsonFilter::init(pairs.iter().copied().collect()).unwrap()
}

fn run(f: &mut JsonFilter, values: &[&[u8]]) -> Vec<u8> {
    let mut w = BatchWriter::new();
    for (i, v) in values.iter().enumerate() {
        let i = i as i64;
        w.record()
            .key(b"k")
            .value(v)
            .timestamp(1000 + i)
            .partition(i as i32)
            .header("h", b"1")
            .finish();
    }
    let input = w.finish();
    let mut out = BatchWriter::new();
    f.process(Records::new(&input), &mut out).unwrap();
    out.finish()
}

/// (value, timestamp, topic, headers) of an output record.
type Summary = (String, i64, Option<String>, Vec<(String, String)>);

fn summary(batch: &[u8]) -> Vec<Summary> {
    BatchReader::new(batch)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.key, Some(&b"k"[..]));
            assert_eq!(r.partition, Some((r.timestamp.unwrap() - 1000) as i32));
            (
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
                r.timestamp.unwrap(),
                r.topic.map(str::to_owned),
                r.headers
                    .iter()
                    .map(|(n, v)| (n.to_owned(), String::from_utf8(v.to_vec()).unwrap()))
                    .collect(),
            )
        })
        .collect()
}

fn hdrs(v: &str) -> Vec<(String, String)> {
    vec![("h".into(), "1".into()), ("json-filter".into(), v.into())]
}

#[test]
fn keeps_matching_records_and_tags_them() {
    let mut f = filter(&[("field", "kind"), ("values", "buy, view")]);
    let out = run(
        &mut f,
        &[
            br#"{"seq":1,"kind":"click"}"#,
            br#"{"kind":"buy","seq":2}"#,
            br#" { "kind" : "view" } "#,
            br#"{"kind":"vie"}"#,
        ],
    );
    assert_eq!(
        summary(&out),
        [
            (r#"{"kind":"buy","seq":2}"#.into(), 1001, None, hdrs("buy")),
            (r#" { "kind" : "view" } "#.into(), 1002, None, hdrs("view")),
        ]
    );
}

#[test]
fn drop_action_and_routing_and_header_name() {
    let mut f = filter(&[
        ("field", "kind"),
        ("values", "click"),
        ("action", "drop"),
        ("route_topic", "other"),
        ("header", "k"),
    ]);
    let out = run(&mut f, &[br#"{"kind":"click"}"#, br#"{"kind":"buy"}"#]);
    let tagged = vec![
        ("h".to_string(), "1".to_string()),
        ("k".to_string(), "buy".to_string()),
    ];
    assert_eq!(
        summary(&out),
        [(
            r#"{"kind":"buy"}"#.into(),
            1001,
            Some("other".into()),
            tagged
        )]
    );
}

#[test]
fn renders_numbers_as_written_and_strings_unescaped() {
    let mut f = filter(&[("field", "n"), ("values", "1.50,true,null,a\"b,-3")]);
    let out = run(
        &mut f,
        &[
            br#"{"n":1.50}"#,
            br#"{"n":1.5}"#,
            br#"{"n":true}"#,
            br#"{"n":null}"#,
            br#"{"n":"a\"b"}"#,
            br#"{"n":-3}"#,
        ],
    );
    let kept: Vec<_> = summary(&out)
        .into_iter()
        .map(|r| r.3[1].1.clone())
        .collect();
    assert_eq!(kept, ["1.50", "true", "null", "a\"b", "-3"]);
}

#[test]
fn last_duplicate_field_counts_and_nested_fields_do_not() {
    let mut f = filter(&[("field", "k"), ("values", "yes")]);
    let out = run(
        &mut f,
        &[
            br#"{"k":"no","k":"yes"}"#,
            br#"{"x":{"k":"yes"}}"#,
            br#"{"k":"yes","k":"no"}"#,
        ],
    );
    assert_eq!(summary(&out).len(), 1);
    assert_eq!(summary(&out)[0].1, 1000);
}

#[test]
fn unreadable_records_are_dropped_with_one_warning_per_batch() {
    let mut f = filter(&[("field", "kind"), ("values", "buy"), ("action", "drop")]);
    let _ = log::take_native_logs();
    let out = run(
        &mut f,
        &[
            b"not json",
            br#"{"other":1}"#,
            br#"[1,2]"#,
            br#"{"kind":"x"} trailing"#,
            br#"{"kind":"x"}"#,
        ],
    );
    assert_eq!(summary(&out).len(), 1);
    let logs = log::take_native_logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].0, Level::Warn);
    assert!(
        logs[0].1.starts_with(
            "dropped 4 of 5 records without a readable `kind` (first: record 0: not a JSON object"
        ),
        "{}",
        logs[0].1
    );

    // A clean batch logs nothing; a tombstone counts as unreadable.
    run(&mut f, &[br#"{"kind":"x"}"#]);
    assert!(log::take_native_logs().is_empty());
    let mut w = BatchWriter::new();
    w.record().key(b"k").finish();
    let input = w.finish();
    let mut out = BatchWriter::new();
    f.process(Records::new(&input), &mut out).unwrap();
    assert!(out.is_empty());
    assert!(log::take_native_logs()[0].1.contains("record 0: no value"));
}

#[test]
fn many_values_use_the_hashed_set() {
    let values: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let mut f = filter(&[("field", "n"), ("values", &values.join(","))]);
    assert!(matches!(f.values, Values::Many(_)));
    let out = run(&mut f, &[br#"{"n":19}"#, br#"{"n":20}"#]);
    assert_eq!(summary(&out).len(), 1);
}

#[test]
fn config_errors() {
    let err = |pairs: &[(&str, &str)]| {
        JsonFilter::init(pairs.iter().copied().collect())
            .err()
            .unwrap()
    };
    assert_eq!(err(&[("values", "a")]), "config `field` is required");
    assert_eq!(err(&[("field", "a")]), "config `values` is required");
    assert!(err(&[("field", "a"), ("values", " , ")]).contains("no values"));
    assert!(err(&[("field", "a"), ("values", "b"), ("action", "maybe")]).contains("`action`"));
    assert!(
        err(&[("field", "a"), ("values", "b"), ("route-topic", "t")])
            .contains("not a known setting")
    );
}

/// Through the SDK's test driver, as the host calls it: records in, records
/// out, every field kept but the added header and the routed topic.
#[test]
fn through_the_sdk_test_driver_fields_pass_unchanged() {
    use streamplug_sdk::testing::{Record, TestTransform};

    let mut t = TestTransform::<JsonFilter>::start(&[
        ("field", "kind"),
        ("values", "buy"),
        ("route_topic", "buys"),
    ])
    .unwrap();
    let buy = Record::new()
        .with_key([0u8, 1])
        .with_value(r#"{"kind":"buy"}"#)
        .with_timestamp(7)
        .with_partition(2)
        .with_header("h", [0xffu8]);
    let tombstone = Record::new().with_key("gone");
    let view = Record::new().with_value(r#"{"kind":"view"}"#);
    let out = t.process(&[buy.clone(), tombstone, view]).unwrap();
    assert_eq!(
        out,
        [buy.with_topic("buys").with_header("json-filter", "buy")],
        "the tombstone (no value) and the view are dropped"
    );
    let err = TestTransform::<JsonFilter>::start(&[("field", "kind")])
        .err()
        .unwrap();
    assert!(err.contains("`values`"), "{err}");
}
