//! The producer's librdkafka properties: throughput-minded defaults from the
//! `[kafka]` table, then the user's pass-through properties on top.

use rdkafka::config::ClientConfig;

use crate::config::KafkaConfig;

pub fn client_config(kafka: &KafkaConfig, bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", "streamplug")
        .set("linger.ms", kafka.linger_ms.to_string())
        .set("batch.size", kafka.batch_size.0.to_string())
        .set("compression.codec", &kafka.compression)
        .set("acks", &kafka.acks)
        .set("enable.idempotence", kafka.idempotence.to_string())
        .set("message.timeout.ms", kafka.message_timeout_ms.to_string())
        // The host's admission window caps what is handed over (dead letters
        // aside), so librdkafka's own queue only needs to be large enough to
        // never be the limit: first-come queueing there would undo the turns.
        .set(
            "queue.buffering.max.messages",
            (kafka.max_in_flight_records * 2)
                .clamp(1_000_000, 10_000_000)
                .to_string(),
        )
        .set(
            "queue.buffering.max.kbytes",
            (kafka.max_in_flight_bytes.0 / 1024 * 2)
                .clamp(1 << 20, i32::MAX as u64)
                .to_string(),
        )
        // Place keyed records as the Java client does.
        .set("partitioner", "murmur2_random");
    for (k, v) in &kafka.properties {
        c.set(k, v);
    }
    c
}

/// Properties for clients other than the producer (admin, metadata): only
/// connection-related settings carry over.
pub fn admin_config(producer: &ClientConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in producer.config_map() {
        let connection = k.starts_with("bootstrap.")
            || k.starts_with("security.")
            || k.starts_with("sasl.")
            || k.starts_with("ssl.")
            || k == "broker.address.family";
        if connection {
            c.set(k, v);
        }
    }
    c
}
