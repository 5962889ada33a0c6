//! The shared producer's librdkafka statistics (`statistics.interval.ms`,
//! set when `[admin]` is configured), kept in the compact form `/metrics`
//! exports: the latest sample only, replaced once per interval on the
//! delivery report thread.

use std::sync::Mutex;

use rdkafka::statistics::Statistics;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct KafkaStats {
    /// Records and bytes in librdkafka's queues now.
    pub queue_records: u64,
    pub queue_bytes: u64,
    /// Requests sent, their errors and retries, over all brokers (counters).
    pub requests: u64,
    pub request_errors: u64,
    pub retries: u64,
    pub brokers: Vec<BrokerStats>,
    pub topics: Vec<TopicStats>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerStats {
    pub name: String,
    /// Round-trip time of requests in the last interval, in seconds.
    pub rtt_avg: f64,
    pub rtt_p99: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicStats {
    pub topic: String,
    /// Size of the batches sent in the last interval: bytes and records.
    pub batch_bytes_avg: f64,
    pub batch_records_avg: f64,
}

impl From<&Statistics> for KafkaStats {
    fn from(s: &Statistics) -> Self {
        // Bootstrap entries (node id -1) are the addresses first contacted,
        // not brokers of the cluster.
        let brokers = s.brokers.values().filter(|b| b.nodeid >= 0);
        let mut out = KafkaStats {
            queue_records: s.msg_cnt,
            queue_bytes: s.msg_size,
            requests: brokers.clone().map(|b| b.tx).sum(),
            request_errors: brokers.clone().map(|b| b.txerrs).sum(),
            retries: brokers.clone().map(|b| b.txretries).sum(),
            brokers: brokers
                .map(|b| BrokerStats {
                    name: b.name.clone(),
                    rtt_avg: b.rtt.as_ref().map_or(0.0, |w| w.avg as f64 / 1e6),
                    rtt_p99: b.rtt.as_ref().map_or(0.0, |w| w.p99 as f64 / 1e6),
                })
                .collect(),
            topics: s
                .topics
                .values()
                .map(|t| TopicStats {
                    topic: t.topic.clone(),
                    batch_bytes_avg: t.batchsize.avg as f64,
                    batch_records_avg: t.batchcnt.avg as f64,
                })
                .collect(),
        };
        out.brokers.sort_by(|a, b| a.name.cmp(&b.name));
        out.topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }
}

/// The latest sample.
#[derive(Default)]
pub struct StatsCell(Mutex<Option<KafkaStats>>);

impl StatsCell {
    pub fn set(&self, stats: KafkaStats) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
    }

    pub fn get(&self) -> Option<KafkaStats> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
