use crate::__private::{
    PartitionerDriver, PartitionerGlue, PollOutcome, SourceDriver, SourceGlue, TransformDriver,
    TransformGlue,
};
use crate::codec::BatchReader;
use crate::*;

fn cfg(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().copied().collect()
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn read(batch: &[u8]) -> Vec<RecordRef<'_>> {
    BatchReader::new(batch)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn config_get_require_parse() {
    let c = cfg(&[
        ("count", "12"),
        ("rate", "2.5"),
        ("bad", "abc"),
        ("name", "x"),
    ]);
    assert_eq!(c.get("name"), Some("x"));
    assert_eq!(c.get("missing"), None);
    assert_eq!(c.require("name"), Ok("x"));
    assert_eq!(
        c.require("missing"),
        Err("config `missing` is required".to_string())
    );
    assert_eq!(c.parse("count", 0u64), Ok(12));
    assert_eq!(c.parse("rate", 0.0f64), Ok(2.5));
    assert_eq!(c.parse("missing", 7u32), Ok(7));
    assert_eq!(c.parse_opt::<u64>("missing"), Ok(None));
    assert_eq!(c.parse_opt::<u64>("count"), Ok(Some(12)));
    assert_eq!(
        c.parse("bad", 0u64),
        Err("config `bad`: invalid digit found in string (got \"abc\")".to_string())
    );
    assert!(
        c.parse_opt::<bool>("name")
            .unwrap_err()
            .starts_with("config `name`: ")
    );
}

#[test]
fn config_iteration_keeps_order_and_first_wins() {
    let c = cfg(&[("b", "1"), ("a", "2"), ("b", "3")]);
    let all: Vec<_> = c.iter().collect();
    assert_eq!(all, [("b", "1"), ("a", "2"), ("b", "3")]);
    assert_eq!((&c).into_iter().count(), 3);
    assert_eq!(c.get("b"), Some("1"));
    assert_eq!(c.len(), 3);
    assert!(!c.is_empty());
}

#[test]
fn config_deny_unknown() {
    let c = cfg(&[("count", "1"), ("value-size", "3")]);
    assert_eq!(c.deny_unknown(&["count", "value-size"]), Ok(()));
    let err = c.deny_unknown(&["count", "value_size"]).unwrap_err();
    assert!(err.contains("`value-size` is not a known setting"), "{err}");
}

#[test]
fn log_macros_format() {
    let _ = log::take_native_logs();
    crate::info!("plain");
    crate::warn!("n = {}", 3);
    log::error("direct");
    assert_eq!(
        log::take_native_logs(),
        [
            (log::Level::Info, "plain".to_string()),
            (log::Level::Warn, "n = 3".to_string()),
            (log::Level::Error, "direct".to_string()),
        ]
    );
}

/// Emits `per_poll` records per call, and says Finished after `total`.
struct Counting {
    next: u32,
    total: u32,
    per_poll: u32,
}

impl Source for Counting {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Counting {
            next: 0,
            total: config.parse("total", 5)?,
            per_poll: config.parse("per_poll", 2)?,
        })
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        if self.per_poll == 0 {
            return Ok(Poll::Idle(40));
        }
        for _ in 0..self.per_poll.min(max_records) {
            if self.next == self.total {
                break;
            }
            let v = self.next.to_le_bytes();
            out.record().value(&v).finish();
            self.next += 1;
        }
        Ok(if self.next == self.total {
            Poll::Finished
        } else {
            Poll::Ready
        })
    }

    fn checkpoint(&self) -> Option<Vec<u8>> {
        Some(self.next.to_le_bytes().to_vec())
    }

    fn resume(&mut self, checkpoint: &[u8]) -> Result<(), String> {
        let bytes: [u8; 4] = checkpoint.try_into().map_err(|_| "not 4 bytes")?;
        self.next = u32::from_le_bytes(bytes);
        Ok(())
    }
}

#[test]
fn source_checkpoint_comes_with_each_batch_and_resumes_a_new_instance() {
    let mut d = SourceDriver::<Counting>::new();
    d.init(pairs(&[("total", "5"), ("per_poll", "2")]), None)
        .unwrap();
    let PollOutcome::Records(_, Some(checkpoint)) = d.poll(10, u64::MAX).unwrap() else {
        panic!("a batch with a checkpoint");
    };
    assert_eq!(checkpoint, 2u32.to_le_bytes());
    let mut next = SourceDriver::<Counting>::new();
    next.init(
        pairs(&[("total", "5"), ("per_poll", "2")]),
        Some(checkpoint),
    )
    .unwrap();
    let PollOutcome::Records(b, _) = next.poll(10, u64::MAX).unwrap() else {
        panic!("records");
    };
    let first = read(&b)[0].value.unwrap().to_vec();
    assert_eq!(first, 2u32.to_le_bytes(), "continues after the checkpoint");
    assert_eq!(
        next.init(vec![], Some(vec![1])).unwrap_err(),
        "cannot resume from the checkpoint: not 4 bytes"
    );
}

#[test]
fn source_poll_before_init_is_an_error() {
    let mut d = SourceDriver::<Counting>::new();
    assert!(
        d.poll(10, u64::MAX)
            .unwrap_err()
            .contains("before a successful `init`")
    );
    assert!(
        d.init(pairs(&[("total", "x")]), None)
            .unwrap_err()
            .starts_with("config `total`")
    );
    assert!(
        d.poll(10, u64::MAX).is_err(),
        "a failed init leaves no instance"
    );
}

#[test]
fn source_records_then_remembered_finished() {
    let mut d = SourceDriver::<Counting>::new();
    d.init(pairs(&[("total", "5"), ("per_poll", "2")]), None)
        .unwrap();
    let mut seen = Vec::new();
    for expect in [2usize, 2, 1] {
        match d.poll(10, u64::MAX).unwrap() {
            PollOutcome::Records(b, _) => {
                let recs = read(&b);
                assert_eq!(recs.len(), expect);
                seen.extend(
                    recs.iter()
                        .map(|r| u32::from_le_bytes(r.value.unwrap().try_into().unwrap())),
                );
            }
            other => panic!("expected records, got {other:?}"),
        }
    }
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    // The last batch came with Finished: it is reported on the next call, and after.
    assert_eq!(d.poll(10, u64::MAX).unwrap(), PollOutcome::Finished);
    assert_eq!(d.poll(10, u64::MAX).unwrap(), PollOutcome::Finished);
    // A new init starts over.
    d.init(pairs(&[("total", "1")]), None).unwrap();
    assert!(matches!(
        d.poll(10, u64::MAX).unwrap(),
        PollOutcome::Records(..)
    ));
    assert_eq!(d.poll(10, u64::MAX).unwrap(), PollOutcome::Finished);
}

#[test]
fn source_empty_results() {
    let mut d = SourceDriver::<Counting>::new();
    d.init(pairs(&[("per_poll", "0")]), None).unwrap();
    assert_eq!(d.poll(10, u64::MAX).unwrap(), PollOutcome::Idle(40));
    d.init(pairs(&[("total", "0")]), None).unwrap();
    assert_eq!(d.poll(10, u64::MAX).unwrap(), PollOutcome::Finished);
}

#[test]
fn source_more_than_asked_is_an_error() {
    struct Greedy;
    impl Source for Greedy {
        fn init(_: Config) -> Result<Self, String> {
            Ok(Greedy)
        }
        fn poll(&mut self, max: u32, out: &mut BatchWriter) -> Result<Poll, String> {
            for _ in 0..=max {
                out.record().finish();
            }
            Ok(Poll::Ready)
        }
    }
    let mut d = SourceDriver::<Greedy>::new();
    d.init(vec![], None).unwrap();
    assert_eq!(
        d.poll(3, u64::MAX).unwrap_err(),
        "poll wrote 4 records, more than the 3 asked for"
    );
}

/// Writes 100-byte values until the writer is full, or (`greedy`) until
/// `max_records` regardless of the byte budget.
struct Big {
    greedy: bool,
}

impl Source for Big {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Big {
            greedy: config.parse("greedy", false)?,
        })
    }
    fn poll(&mut self, max: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        let value = [7u8; 100];
        for _ in 0..max {
            if out.is_full() && !self.greedy {
                break;
            }
            out.record().value(&value).finish();
        }
        Ok(Poll::Ready)
    }
}

#[test]
fn source_stops_at_the_byte_budget_passing_it_by_one_record() {
    // Each record: flags 1 + value length 4 + 100 + header count 2 = 107
    // bytes, after the 5-byte batch header.
    let mut d = SourceDriver::<Big>::new();
    d.init(vec![], None).unwrap();
    let PollOutcome::Records(b, _) = d.poll(100, 250).unwrap() else {
        panic!("expected records");
    };
    // 5 + 107 + 107 = 219 < 250: a third record goes, then it is full.
    assert_eq!(read(&b).len(), 3);
    assert_eq!(b.len(), 5 + 3 * 107);
    // A budget below one record still lets one through.
    let PollOutcome::Records(b, _) = d.poll(100, 1).unwrap() else {
        panic!("expected records");
    };
    assert_eq!(read(&b).len(), 1);
    // The record count still binds when bytes do not.
    let PollOutcome::Records(b, _) = d.poll(2, u64::MAX).unwrap() else {
        panic!("expected records");
    };
    assert_eq!(read(&b).len(), 2);
}

#[test]
fn source_over_the_byte_budget_is_an_error() {
    let mut d = SourceDriver::<Big>::new();
    d.init(pairs(&[("greedy", "true")]), None).unwrap();
    assert_eq!(
        d.poll(5, 250).unwrap_err(),
        "poll wrote 540 bytes in 5 records, over the budget of 250 bytes by more than one record: stop writing once `out.is_full()`"
    );
}

/// Passes records through, routing to `topic` and tagging them, and drops
/// records without a key.
struct Tagger {
    topic: Option<String>,
}

impl Transform for Tagger {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Tagger {
            topic: config.get("topic").map(str::to_owned),
        })
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        assert_eq!(input.len(), input.size_hint().0);
        for r in input {
            if r.key.is_some() {
                out.push_with(&r, self.topic.as_deref(), &[("tag", b"1")]);
            }
        }
        Ok(())
    }
}

fn sample_batch() -> Vec<u8> {
    let mut w = BatchWriter::new();
    w.record()
        .key(b"k1")
        .value(b"v1")
        .timestamp(5)
        .partition(2)
        .topic("t")
        .header("a", b"x")
        .header("a", b"y")
        .finish();
    w.record().value(b"no key").finish();
    w.record().key(b"").finish();
    w.finish()
}

#[test]
fn transform_push_with_keeps_everything_else() {
    let mut d = TransformDriver::<Tagger>::new();
    assert!(d.process(&sample_batch()).is_err());
    d.init(pairs(&[("topic", "routed")])).unwrap();
    let out = d.process(&sample_batch()).unwrap();
    let recs = read(&out);
    assert_eq!(recs.len(), 2);
    let r = &recs[0];
    assert_eq!(
        (r.key, r.value, r.timestamp, r.partition, r.topic),
        (
            Some(&b"k1"[..]),
            Some(&b"v1"[..]),
            Some(5),
            Some(2),
            Some("routed")
        )
    );
    let headers: Vec<_> = r.headers.iter().collect();
    assert_eq!(
        headers,
        [("a", &b"x"[..]), ("a", &b"y"[..]), ("tag", &b"1"[..])]
    );
    let r = &recs[1];
    assert_eq!(
        (r.key, r.value, r.timestamp, r.partition, r.topic),
        (Some(&b""[..]), None, None, None, Some("routed"))
    );
    assert_eq!(r.headers.iter().collect::<Vec<_>>(), [("tag", &b"1"[..])]);

    // Without a topic override the record's own topic stays (or stays absent).
    d.init(vec![]).unwrap();
    let out = d.process(&sample_batch()).unwrap();
    let recs = read(&out);
    assert_eq!(recs[0].topic, Some("t"));
    assert_eq!(recs[1].topic, None);
}

#[test]
fn plain_push_round_trips() {
    struct Copy;
    impl Transform for Copy {
        fn init(_: Config) -> Result<Self, String> {
            Ok(Copy)
        }
        fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
            input.for_each(|r| out.push(&r));
            Ok(())
        }
    }
    let mut d = TransformDriver::<Copy>::new();
    d.init(vec![]).unwrap();
    let batch = sample_batch();
    assert_eq!(d.process(&batch).unwrap(), batch);
    // Twice: the second call reuses the size of the first as its capacity.
    assert_eq!(d.process(&batch).unwrap(), batch);
}

#[test]
#[should_panic(expected = "the host sent a malformed batch")]
fn malformed_batch_panics_clearly() {
    let mut batch = sample_batch();
    batch.truncate(batch.len() - 1);
    Records::new(&batch).for_each(drop);
}

struct ByValueLen;

impl Partitioner for ByValueLen {
    fn init(_: Config) -> Result<Self, String> {
        Ok(ByValueLen)
    }

    fn partition(&mut self, topic: &str, count: u32, r: &RecordRef<'_>) -> Result<u32, String> {
        if topic == "fail" {
            return Err("nope".into());
        }
        Ok(r.value.map_or(0, |v| v.len() as u32) % count)
    }
}

#[test]
fn partitioner_one_entry_per_record() {
    let mut d = PartitionerDriver::<ByValueLen>::new();
    assert!(d.partition("t", 3, &sample_batch()).is_err());
    d.init(vec![]).unwrap();
    assert_eq!(d.partition("t", 3, &sample_batch()).unwrap(), [2, 0, 0]);
    assert_eq!(d.partition("fail", 3, &sample_batch()).unwrap_err(), "nope");
    assert_eq!(
        d.partition("t", 3, &BatchWriter::new().finish()).unwrap(),
        Vec::<u32>::new()
    );
}

#[test]
fn log_import_names_the_wit_package_version() {
    let wit = include_str!("../../../wit/plugin.wit");
    let version = wit
        .lines()
        .find_map(|l| l.strip_prefix("package streamplug:plugin@"))
        .and_then(|v| v.strip_suffix(';'))
        .expect("the WIT names its package version");
    let log = include_str!("log.rs");
    let import = format!("wasm_import_module = \"streamplug:plugin/log@{version}\"");
    assert!(log.contains(&import), "log.rs must import {import}");
    let registry = include_str!("schema_registry.rs");
    let import = format!("wasm_import_module = \"streamplug:plugin/schema-registry@{version}\"");
    assert!(
        registry.contains(&import),
        "schema_registry.rs must import {import}"
    );
    // The enum's order is the WIT's: its discriminants cross the boundary.
    assert!(wit.contains("enum schema-type { avro, protobuf, json }"));
}

mod testing_driver {
    use super::{Big, Counting, Tagger};
    use crate::DeliveryReport;
    use crate::testing::{Polled, Record, TestSource, TestTransform, decode, encode};

    #[test]
    fn records_keep_every_field_through_the_encoding() {
        let r = Record::new()
            .with_key([0u8, 0xff])
            .with_value("v")
            .with_timestamp(-3)
            .with_partition(4)
            .with_topic("t")
            .with_header("a", "1")
            .with_header("a", [2u8]);
        let tombstone = Record::new().with_key("k");
        let empty = Record::new().with_key("").with_value("");
        let all = [r.clone(), tombstone.clone(), empty.clone(), Record::new()];
        assert_eq!(decode(&encode(&all)).unwrap(), all);
        assert_eq!(r.header("a"), Some(&b"1"[..]), "the first of its name");
        assert_eq!(r.key_str(), None, "not UTF-8");
        assert_eq!(empty.value_str(), Some(""), "empty is not absent");
        assert_eq!(tombstone.value, None);
        assert!(decode(&[9]).is_err());
    }

    #[test]
    fn a_source_is_held_to_its_budgets_and_resumes() {
        let mut greedy = TestSource::<Big>::start(&[("greedy", "true")]).unwrap();
        let err = greedy.poll_within(5, 250).unwrap_err();
        assert!(err.contains("over the budget of 250 bytes"), "{err}");
        let mut polite = TestSource::<Big>::start(&[]).unwrap();
        let Polled::Records(r) = polite.poll_within(100, 250).unwrap() else {
            panic!("records");
        };
        assert_eq!(r.len(), 3);

        let config = [("total", "5"), ("per_poll", "2")];
        let mut s = TestSource::<Counting>::start(&config).unwrap();
        assert_eq!(s.take(3).unwrap().len(), 3, "asks for what is missing");
        let next = s.checkpoint().unwrap().to_vec();
        s.deliver(DeliveryReport::default());
        let mut again = TestSource::<Counting>::resume(&config, &next).unwrap();
        let rest = again.take(10).unwrap();
        let rest: Vec<_> = rest.iter().map(|r| r.value.clone().unwrap()).collect();
        assert_eq!(rest, [3u32.to_le_bytes(), 4u32.to_le_bytes()]);
        assert_eq!(again.poll(10).unwrap(), Polled::Finished);
        let idle = [("per_poll", "0")];
        let mut idle = TestSource::<Counting>::start(&idle).unwrap();
        assert_eq!(idle.poll(10).unwrap(), Polled::Idle(40));
        assert!(idle.take(10).unwrap().is_empty(), "take stops when idle");
    }

    #[test]
    fn a_transform_takes_and_gives_records() {
        let mut t = TestTransform::<Tagger>::start(&[("topic", "routed")]).unwrap();
        let keyed = Record::new()
            .with_key("k")
            .with_value("x")
            .with_header("h", "1");
        let out = t
            .process(&[keyed.clone(), Record::new().with_value("no key")])
            .unwrap();
        assert_eq!(out, [keyed.with_topic("routed").with_header("tag", "1")]);
    }
}
