//! One plugin's stuck topic must not block the others: its records in
//! flight are capped, its source is paused, and everyone else keeps going.
//!
//! A single real broker cannot stall one topic and not another, so this
//! fault is injected with librdkafka's mock cluster, the host running
//! in-process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use streamplug::{Config, Stop, runtime};
use streamplug_tests::{Scratch, artifacts};

#[test]
fn stuck_topic_pauses_only_its_own_source_within_its_cap() {
    let (cap, batch, healthy_count) = (500u64, 100u64, 200_000u64);
    // Two brokers, each leading one topic; the stuck topic's broker goes
    // down mid-run. (A leaderless partition would be closer still, but
    // librdkafka 2.12.1's mock broker crashes answering Produce for one.)
    let cluster: MockCluster<'static, DefaultProducerContext> = MockCluster::new(2).unwrap();
    cluster.create_topic("stuck", 1, 1).unwrap();
    cluster.create_topic("healthy", 1, 1).unwrap();
    cluster.partition_leader("stuck", 0, Some(2)).unwrap();
    cluster.partition_leader("healthy", 0, Some(1)).unwrap();
    let dir = Scratch::new("stuck");
    let path = dir.write(
        "c.toml",
        &format!(
            r#"
[kafka]
brokers = "{brokers}"
# Records for the stuck topic wait this long, then are reported failed.
message_timeout_ms = 6000

[[source]]
name = "stuck"
wasm = "{datagen}"
topic = "stuck"
batch_size = {batch}
max_in_flight_records = {cap}

[[source]]
name = "healthy"
wasm = "{datagen}"
topic = "healthy"
[source.config]
count = {healthy_count}
rate = 50000
"#,
            brokers = cluster.bootstrap_servers(),
            datagen = artifacts::DATAGEN,
        ),
    );
    let config = Config::load(&path).unwrap();
    let stop = Arc::new(Stop::default());
    let host = {
        let stop = stop.clone();
        std::thread::spawn(move || runtime::run_until(&config, stop, false))
    };
    // Let both run, then take the stuck topic's broker away for good.
    std::thread::sleep(Duration::from_millis(1500));
    cluster.broker_down(2).unwrap();
    // Stop once the healthy source's records are all in its topic (bounded:
    // a starved neighbour fails the assertions below instead of hanging).
    let watcher: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let (_, high) = watcher
            .fetch_watermarks("healthy", 0, Duration::from_secs(5))
            .unwrap_or((0, 0));
        if high as u64 >= healthy_count {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.raise();
    let summary = host.join().unwrap().unwrap();
    let stuck = &summary.plugins["stuck"];
    let healthy = &summary.plugins["healthy"];

    // The healthy neighbour made and delivered all its records while the
    // other topic was stuck.
    assert_eq!(healthy.delivered, healthy_count, "{healthy:?}");
    assert_eq!(healthy.failed, 0);

    // The stuck source was paused at its cap (at most one batch over it)
    // rather than filling the shared producer's queue; it had delivered
    // before the leader went away.
    assert!(stuck.delivered > 0, "{stuck:?}");
    let undelivered = stuck.records_in - stuck.delivered;
    assert!(
        undelivered <= cap + batch,
        "{undelivered} records stuck in flight, cap {cap}: {stuck:?}"
    );
    // And every record it handed over is accounted for: what was not
    // delivered failed, with the cause named.
    assert_eq!(stuck.produced, stuck.records_in);
    assert_eq!(
        stuck.delivered + stuck.failed,
        stuck.records_in,
        "{stuck:?}"
    );
    assert!(
        stuck.failed > 0 && stuck.failures.keys().any(|c| c.contains("`stuck`")),
        "{stuck:?}"
    );
}
