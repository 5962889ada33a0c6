//! Every Kafka client's librdkafka properties, made in one place from the
//! `[kafka]` table: the shared producer, each exactly-once source's
//! transactional producer, the admin client and the checkpoint store's
//! clients. They all connect the same way (brokers, `[kafka.security]`, the
//! user's connection properties); only the producers get the throughput
//! settings.
//!
//! Made from the settings, never copied from another `ClientConfig`:
//! rdkafka's `config_map()` replaces secrets with a placeholder, so a copy
//! would authenticate with "[sanitized for safety]" as the password.

use rdkafka::config::ClientConfig;

use crate::config::KafkaConfig;

/// What a client needs to reach the cluster, and the shared producer's
/// properties on top.
#[derive(Clone)]
pub struct ClientSettings {
    connection: ClientConfig,
    producer: ClientConfig,
}

impl ClientSettings {
    pub fn new(kafka: &KafkaConfig, bootstrap: &str) -> Self {
        let connection = connection_config(kafka, bootstrap);
        let producer = producer_config(connection.clone(), kafka);
        Self {
            connection,
            producer,
        }
    }

    /// Has the shared producer sample librdkafka's statistics every second
    /// (for `/metrics`), unless the user set `statistics.interval.ms`.
    pub fn sample_statistics(&mut self) {
        if self.producer.get("statistics.interval.ms").is_none() {
            self.producer.set("statistics.interval.ms", "1000");
        }
    }

    /// The shared producer's.
    pub fn producer(&self) -> &ClientConfig {
        &self.producer
    }

    /// An exactly-once source's transactional producer: the shared
    /// producer's, idempotent, with its own transactional id.
    /// `message_timeout_ms` bounds a transaction's length too.
    pub fn transactional(&self, id: &str, message_timeout_ms: u64) -> ClientConfig {
        let mut c = self.producer.clone();
        // librdkafka refuses a message timeout longer than the transaction
        // timeout; a user's own setting wins.
        if c.get("transaction.timeout.ms").is_none() {
            c.set(
                "transaction.timeout.ms",
                message_timeout_ms.max(60_000).to_string(),
            );
        }
        c.set("enable.idempotence", "true")
            .set("transactional.id", id);
        // Only the shared producer's statistics are exported.
        if self.producer.get("statistics.interval.ms") == Some("1000") {
            c.remove("statistics.interval.ms");
        }
        c
    }

    /// Admin and metadata clients, and the checkpoint store's consumer.
    pub fn connection(&self) -> ClientConfig {
        self.connection.clone()
    }

    /// The checkpoint store's producer: every write acknowledged at once.
    pub fn checkpoint_producer(&self) -> ClientConfig {
        let mut c = self.connection.clone();
        c.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0");
        c
    }
}

/// The shared producer's properties alone (benchmarks compare against them).
pub fn client_config(kafka: &KafkaConfig, bootstrap: &str) -> ClientConfig {
    ClientSettings::new(kafka, bootstrap).producer().clone()
}

/// Whether a user's pass-through property is about reaching the brokers
/// (and so applies to every client), not about producing.
fn is_connection_property(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "bootstrap.",
        "security.",
        "sasl.",
        "ssl.",
        "ssl_",
        "socket.",
        "reconnect.",
        "enable.ssl.",
        "enable.sasl.",
        "https.",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p))
        || ["broker.address.family", "debug", "client.dns.lookup"].contains(&key)
}

fn connection_config(kafka: &KafkaConfig, bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", "streamplug");
    for (key, value) in &kafka.resolved_security.properties {
        c.set(*key, value.expose());
    }
    if let Some(t) = &kafka.resolved_security.token {
        c.set("sasl.oauthbearer.config", super::oauth::encode(t));
    }
    // The user's own properties win over `[kafka.security]`.
    for (k, v) in &kafka.properties {
        if is_connection_property(k) {
            c.set(k, v);
        }
    }
    c
}

fn producer_config(mut c: ClientConfig, kafka: &KafkaConfig) -> ClientConfig {
    c.set("linger.ms", kafka.linger_ms.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Security, Value};
    use crate::secrets::Secret;

    #[test]
    fn every_client_gets_the_real_password() {
        let mut kafka = KafkaConfig {
            resolved_security: Security {
                properties: vec![
                    ("security.protocol", Value::Plain("sasl_ssl".into())),
                    (
                        "sasl.password",
                        Value::Secret(Secret::new("pw-from-env-1234".into())),
                    ),
                ],
                token: None,
            },
            ..KafkaConfig::default()
        };
        kafka
            .properties
            .insert("ssl.ca.location".into(), "/ca.pem".into());
        kafka.properties.insert("linger.ms".into(), "7".into());
        let s = ClientSettings::new(&kafka, "b:9093");
        let clients = [
            s.producer().clone(),
            s.transactional("t", 1000),
            s.connection(),
            s.checkpoint_producer(),
        ];
        for c in &clients {
            assert_eq!(c.get("sasl.password"), Some("pw-from-env-1234"));
            assert_eq!(c.get("security.protocol"), Some("sasl_ssl"));
            assert_eq!(c.get("ssl.ca.location"), Some("/ca.pem"));
            assert_eq!(c.get("bootstrap.servers"), Some("b:9093"));
        }
        assert_eq!(s.producer().get("linger.ms"), Some("7"));
        assert_eq!(s.connection().get("linger.ms"), None);
        assert_eq!(
            s.transactional("t", 1000).get("transactional.id"),
            Some("t")
        );
    }
}
