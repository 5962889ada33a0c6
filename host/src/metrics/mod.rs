//! `GET /metrics`: the Prometheus text exposition, built at scrape time
//! (counter names are given without `_total`: the encoder appends it)
//! from the counters the host keeps anyway (nothing is added to the hot
//! path: a scrape reads the same atomics as the summary at exit).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::checkpoint::Commits;
use crate::latency::{BOUNDS, Latencies};
use crate::producer::statistics::KafkaStats;
use crate::stats::{FailureKind, PluginSummary};
use crate::version::Versions;

/// The content type of the exposition.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What a scrape reads: a snapshot of every plugin's counters and of the
/// shared producer's window.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub plugins: BTreeMap<String, PluginSummary>,
    /// Records handed to the shared producer and not yet reported.
    pub window_records: u64,
    /// The shared producer's latest librdkafka statistics.
    pub kafka: Option<KafkaStats>,
    /// Records and bytes each running source has in flight.
    pub in_flight: BTreeMap<String, (u64, u64)>,
    /// Each source's checkpoint commits (with `[checkpoints]`).
    pub commits: HashMap<String, Commits>,
}

/// The per-plugin labels: `plugin`, `world`, `tenant`.
type Labels = [(&'static str, String); 3];

/// One per-plugin counter: its name, help and how it is read.
struct PluginCounter {
    name: &'static str,
    help: &'static str,
    read: fn(&PluginSummary) -> u64,
}

/// The per-plugin counters, each the summary field of the same meaning.
const PLUGIN_COUNTERS: &[PluginCounter] = &[
    PluginCounter {
        name: "streamplug_records_in",
        help: "Records a source made, or a transform received.",
        read: |p| p.records_in,
    },
    PluginCounter {
        name: "streamplug_records_out",
        help: "Records a plugin handed on (a source: the records it made).",
        read: |p| p.records_out,
    },
    PluginCounter {
        name: "streamplug_records_dropped",
        help: "Records a transform received and did not return.",
        read: |p| p.dropped,
    },
    PluginCounter {
        name: "streamplug_records_produced",
        help: "Records handed to the Kafka producer.",
        read: |p| p.produced,
    },
    PluginCounter {
        name: "streamplug_records_delivered",
        help: "Records the broker acknowledged.",
        read: |p| p.delivered,
    },
    PluginCounter {
        name: "streamplug_records_failed",
        help: "Records that will never reach Kafka.",
        read: |p| p.failed,
    },
    PluginCounter {
        name: "streamplug_delivered_bytes",
        help: "Payload bytes (key, value, headers) of delivered records.",
        read: |p| p.bytes,
    },
    PluginCounter {
        name: "streamplug_plugin_restarts",
        help: "Times the plugin was restarted after a failure.",
        read: |p| p.restarts,
    },
    PluginCounter {
        name: "streamplug_plugin_errors",
        help: "Errors the plugin returned (it kept running).",
        read: |p| p.errors,
    },
    PluginCounter {
        name: "streamplug_plugin_swaps",
        help: "New versions of the plugin that took over while running.",
        read: |p| p.swaps.len() as u64,
    },
    PluginCounter {
        name: "streamplug_plugin_swaps_refused",
        help: "New versions of the plugin that were refused.",
        read: |p| p.refused_swaps.len() as u64,
    },
    PluginCounter {
        name: "streamplug_log_lines_dropped",
        help: "Log lines of the plugin dropped over its rate limit.",
        read: |p| p.log_lines_dropped,
    },
    PluginCounter {
        name: "streamplug_records_dead_lettered",
        help: "Failed records written to the tenant's dead-letter topic.",
        read: |p| p.dead_lettered,
    },
    PluginCounter {
        name: "streamplug_dead_letters_failed",
        help: "Failed records that could not be dead-lettered either.",
        read: |p| p.dead_letter_failed,
    },
    PluginCounter {
        name: "streamplug_transactions_committed",
        help: "Transactions committed (exactly-once sources).",
        read: |p| p.transactions,
    },
    PluginCounter {
        name: "streamplug_records_aborted",
        help: "Records in aborted transactions, made again afterwards.",
        read: |p| p.aborted,
    },
];

/// A metric's name, its help text, and how to read it from a `T`.
type Described<T, V> = (&'static str, &'static str, fn(&T) -> V);

/// The per-plugin counters in seconds.
const PLUGIN_SECONDS: &[Described<PluginSummary, f64>] = &[
    (
        "streamplug_quota_wait_seconds",
        "Time the source waited on its quota (records/s, bytes/s, its tenant's).",
        |p| p.waited_quota_seconds,
    ),
    (
        "streamplug_in_flight_cap_wait_seconds",
        "Time the source waited at its in-flight caps (max_in_flight_records/bytes).",
        |p| p.waited_caps_seconds,
    ),
    (
        "streamplug_window_wait_seconds",
        "Time the source waited for its turn in the shared producer's window.",
        |p| p.waited_window_seconds,
    ),
    (
        "streamplug_plugin_call_seconds",
        "Wall time inside the plugin's calls (stands for its CPU time; WASI waits included).",
        |p| p.call_seconds,
    ),
];

/// The tenant totals: the per-plugin counters summed per tenant.
const TENANT_COUNTERS: &[Described<PluginSummary, u64>] = &[
    (
        "streamplug_tenant_records_produced",
        "Records the tenant's sources handed to the producer.",
        |p| p.produced,
    ),
    (
        "streamplug_tenant_records_delivered",
        "Records of the tenant's sources the broker acknowledged.",
        |p| p.delivered,
    ),
    (
        "streamplug_tenant_records_failed",
        "Records of the tenant's sources that will never reach Kafka.",
        |p| p.failed,
    ),
    (
        "streamplug_tenant_delivered_bytes",
        "Payload bytes of the tenant's delivered records.",
        |p| p.bytes,
    ),
];

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let v = Versions::current();
        let build = [
            ("version", v.streamplug.to_string()),
            ("wit", v.wit),
            ("wasmtime", v.wasmtime.to_string()),
            ("librdkafka", v.librdkafka),
        ];
        let mut m = encoder.encode_descriptor(
            "streamplug_build_info",
            "The versions of this build: streamplug, its plugin contracts, wasmtime, librdkafka.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1i64).encode(m.encode_family(&build)?)?;

        let labels: Vec<(String, Labels)> = self
            .plugins
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    [
                        ("plugin", name.clone()),
                        ("world", p.world.to_string()),
                        ("tenant", p.tenant.clone().unwrap_or_default()),
                    ],
                )
            })
            .collect();
        for c in PLUGIN_COUNTERS {
            let mut m = encoder.encode_descriptor(c.name, c.help, None, MetricType::Counter)?;
            for (name, set) in &labels {
                let value = (c.read)(&self.plugins[name]);
                ConstCounter::new(value).encode(m.encode_family(set)?)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "streamplug_delivery_latency_seconds",
            "Time from a source's batch being made to the broker acknowledging its records.",
            None,
            MetricType::Histogram,
        )?;
        for (name, set) in &labels {
            let p = &self.plugins[name];
            if p.world == crate::plugin::World::Source {
                Histogram(&p.latency).encode(m.encode_family(set)?)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "streamplug_plugin_given_up",
            "1 if the plugin was stopped for good after failing repeatedly.",
            None,
            MetricType::Gauge,
        )?;
        for (name, set) in &labels {
            let value = i64::from(self.plugins[name].gave_up);
            ConstGauge::new(value).encode(m.encode_family(set)?)?;
        }
        let mut m = encoder.encode_descriptor(
            "streamplug_peak_in_flight_records",
            "Most records the source had in flight at once.",
            None,
            MetricType::Gauge,
        )?;
        for (name, set) in &labels {
            let value = self.plugins[name].peak_in_flight as i64;
            ConstGauge::new(value).encode(m.encode_family(set)?)?;
        }

        self.encode_failures(&labels, &mut encoder)?;
        self.encode_usage(&labels, &mut encoder)?;
        self.encode_sources(&labels, &mut encoder)?;

        let mut tenants: BTreeMap<&str, Vec<&PluginSummary>> = BTreeMap::new();
        for p in self.plugins.values() {
            if let Some(t) = &p.tenant {
                tenants.entry(t).or_default().push(p);
            }
        }
        for (name, help, read) in TENANT_COUNTERS {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (tenant, plugins) in &tenants {
                let total: u64 = plugins.iter().map(|p| read(p)).sum();
                let set = [("tenant", *tenant)];
                ConstCounter::new(total).encode(m.encode_family(&set)?)?;
            }
        }

        let m = encoder.encode_descriptor(
            "streamplug_producer_window_records",
            "Records handed to the shared producer and not yet reported (all sources).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(self.window_records as i64).encode(m)?;
        if let Some(k) = &self.kafka {
            encode_kafka(k, &mut encoder)?;
        }
        Ok(())
    }
}

impl Snapshot {
    /// Failed records by kind: every kind for every plugin, zeros too, so
    /// that the kinds sum to `streamplug_records_failed_total`.
    fn encode_failures(
        &self,
        labels: &[(String, Labels)],
        encoder: &mut DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        let mut m = encoder.encode_descriptor(
            "streamplug_record_failures",
            "Records that will never reach Kafka, by kind of cause (the summary's failure_kinds).",
            None,
            MetricType::Counter,
        )?;
        for (name, [plugin, world, tenant]) in labels {
            let p = &self.plugins[name];
            for kind in FailureKind::ALL {
                let n = p.failure_kinds.get(kind.label()).copied().unwrap_or(0);
                let set = [
                    plugin.clone(),
                    world.clone(),
                    tenant.clone(),
                    ("cause", kind.label().to_string()),
                ];
                ConstCounter::new(n).encode(m.encode_family(&set)?)?;
            }
        }
        Ok(())
    }

    /// Waits, call time and linear memory, per plugin.
    fn encode_usage(
        &self,
        labels: &[(String, Labels)],
        encoder: &mut DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        for (name, help, read) in PLUGIN_SECONDS {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (plugin, set) in labels {
                ConstCounter::new(read(&self.plugins[plugin])).encode(m.encode_family(set)?)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "streamplug_plugin_memory_bytes",
            "Linear memory of the plugin's live instances.",
            None,
            MetricType::Gauge,
        )?;
        for (plugin, set) in labels {
            let value = self.plugins[plugin].memory_bytes as i64;
            ConstGauge::new(value).encode(m.encode_family(set)?)?;
        }
        Ok(())
    }

    /// Per source: records and bytes in flight, checkpoint commits and the
    /// age of the last one.
    fn encode_sources(
        &self,
        labels: &[(String, Labels)],
        encoder: &mut DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        let sources: Vec<&(String, Labels)> = labels
            .iter()
            .filter(|(n, _)| self.plugins[n].world == crate::plugin::World::Source)
            .collect();
        let in_flight: [Described<(u64, u64), i64>; 2] = [
            (
                "streamplug_in_flight_records",
                "Records the source handed to the producer that have no delivery report yet.",
                |f| f.0 as i64,
            ),
            (
                "streamplug_in_flight_bytes",
                "Payload bytes of the source's records in flight.",
                |f| f.1 as i64,
            ),
        ];
        for (name, help, read) in in_flight {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (plugin, set) in &sources {
                let now = self.in_flight.get(plugin).copied().unwrap_or((0, 0));
                ConstGauge::new(read(&now)).encode(m.encode_family(set)?)?;
            }
        }
        let committed: Vec<(&Labels, Commits)> = sources
            .iter()
            .filter_map(|(p, set)| self.commits.get(p).map(|c| (set, *c)))
            .collect();
        let mut m = encoder.encode_descriptor(
            "streamplug_checkpoint_commits",
            "Checkpoints of the source written to the [checkpoints] store.",
            None,
            MetricType::Counter,
        )?;
        for (set, c) in &committed {
            ConstCounter::new(c.count).encode(m.encode_family(*set)?)?;
        }
        let mut m = encoder.encode_descriptor(
            "streamplug_checkpoint_age_seconds",
            "Time since the source's last checkpoint was written to the store.",
            None,
            MetricType::Gauge,
        )?;
        let now = SystemTime::now();
        for (set, c) in &committed {
            let age = now.duration_since(c.last).unwrap_or_default();
            ConstGauge::new(age.as_secs_f64()).encode(m.encode_family(*set)?)?;
        }
        Ok(())
    }
}

/// A latency histogram as it is at the scrape.
struct Histogram<'a>(&'a Latencies);

impl EncodeMetric for Histogram<'_> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .copied()
            .zip(self.0.buckets.iter().copied())
            .collect();
        buckets.push((
            f64::INFINITY,
            self.0.buckets.get(BOUNDS.len()).copied().unwrap_or(0),
        ));
        encoder.encode_histogram::<NoLabelSet>(self.0.sum_seconds, self.0.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(m)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(m)
}

/// librdkafka's statistics of the shared producer.
fn encode_kafka(k: &KafkaStats, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    gauge(
        encoder,
        "streamplug_kafka_queue_records",
        "Records in librdkafka's queues (all topics).",
        k.queue_records as f64,
    )?;
    gauge(
        encoder,
        "streamplug_kafka_queue_bytes",
        "Bytes of the records in librdkafka's queues.",
        k.queue_bytes as f64,
    )?;
    counter(
        encoder,
        "streamplug_kafka_requests",
        "Requests sent to brokers (rate() of it is the request rate).",
        k.requests,
    )?;
    counter(
        encoder,
        "streamplug_kafka_request_errors",
        "Requests to brokers that failed.",
        k.request_errors,
    )?;
    counter(
        encoder,
        "streamplug_kafka_request_retries",
        "Requests to brokers sent again.",
        k.retries,
    )?;
    let windows: [Described<crate::producer::statistics::BrokerStats, f64>; 2] = [
        (
            "streamplug_kafka_broker_rtt_seconds",
            "Average round-trip time of requests to the broker in the last statistics interval.",
            |b| b.rtt_avg,
        ),
        (
            "streamplug_kafka_broker_rtt_p99_seconds",
            "99th percentile round-trip time to the broker in the last statistics interval.",
            |b| b.rtt_p99,
        ),
    ];
    for (name, help, read) in windows {
        let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for b in &k.brokers {
            let set = [("broker", b.name.as_str())];
            ConstGauge::new(read(b)).encode(m.encode_family(&set)?)?;
        }
    }
    let batches: [Described<crate::producer::statistics::TopicStats, f64>; 2] = [
        (
            "streamplug_kafka_batch_bytes",
            "Average size in bytes of the batches sent to the topic in the last statistics interval.",
            |t| t.batch_bytes_avg,
        ),
        (
            "streamplug_kafka_batch_records",
            "Average records per batch sent to the topic in the last statistics interval.",
            |t| t.batch_records_avg,
        ),
    ];
    for (name, help, read) in batches {
        let mut m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for t in &k.topics {
            let set = [("topic", t.topic.as_str())];
            ConstGauge::new(read(t)).encode(m.encode_family(&set)?)?;
        }
    }
    Ok(())
}

/// The exposition of `snapshot` in the Prometheus text format.
pub fn render(snapshot: Snapshot) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    if !out.ends_with('\n') {
        out.write_char('\n')?;
    }
    Ok(out)
}
