//! Reaching Kafka at startup: the embedded cluster for a config without
//! brokers, or the configured brokers, waited for with progress reports and
//! cut short by Ctrl-C/SIGTERM; then the topics the run produces to.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use rdkafka::config::ClientConfig;

use crate::config::Config;
use crate::pipeline::Stop;
use crate::producer::SharedProducer;
use crate::producer::embedded::EmbeddedCluster;
use crate::producer::settings::ClientSettings;
use crate::producer::topics::{TopicSpec, Topics};

use super::tls_probe;

/// How often a wait for the brokers says it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The Kafka side of a run.
pub struct Kafka {
    /// Every client's librdkafka properties.
    pub client: ClientSettings,
    pub producer: Arc<SharedProducer>,
    /// Declared last: dropped after every client above that talks to it.
    pub embedded: Option<EmbeddedCluster>,
}

/// A stop (Ctrl-C, SIGTERM) came before Kafka could be reached.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped before Kafka could be reached")
    }
}

impl std::error::Error for Interrupted {}

/// Connects to the cluster `config` names (or starts the embedded one with
/// `specs` on it), then creates the topics of `specs` that are missing.
pub fn connect(
    config: &Config,
    specs: &[TopicSpec],
    stop: &Stop,
    async_rt: tokio::runtime::Handle,
) -> Result<(Kafka, Topics)> {
    let (bootstrap, embedded) = match &config.kafka.brokers {
        Some(b) => (b.clone(), None),
        None => {
            let e = EmbeddedCluster::start(specs)?;
            eprintln!(
                "streamplug: no brokers configured: using an embedded in-process Kafka cluster \
                 (in-memory, not durable, keeps only the newest records of each partition)"
            );
            (e.bootstrap_servers(), Some(e))
        }
    };
    let mut client = ClientSettings::new(&config.kafka, &bootstrap);
    if config.admin.is_some() {
        client.sample_statistics();
    }
    let producer = Arc::new(SharedProducer::new(client.producer())?);
    let timeout = Duration::from_millis(config.kafka.connect_timeout_ms);
    wait_until_reachable(&producer, client.producer(), &bootstrap, timeout, stop)?;
    let topics = Topics::new(&client.connection(), async_rt)?;
    topics.ensure(specs)?;
    if client.producer().get("enable.idempotence") == Some("true") {
        wait_for_broker_connection(&producer, specs);
    }
    tracing::info!(brokers = %bootstrap, topics = specs.len(), "connected to Kafka");
    let kafka = Kafka {
        client,
        producer,
        embedded,
    };
    Ok((kafka, topics))
}

/// Waits until a broker answers a metadata request, saying once where and
/// how long, then every few seconds why not yet. Ends early on `stop`, and
/// at once on an error that retrying cannot mend (authentication, TLS).
fn wait_until_reachable(
    producer: &SharedProducer,
    client: &ClientConfig,
    bootstrap: &str,
    timeout: Duration,
    stop: &Stop,
) -> Result<()> {
    let tls = tls_probe::uses_tls(client);
    if let Some(problem) = tls
        .then(|| tls_probe::client_certificate_problem(client))
        .flatten()
    {
        bail!("cannot connect to Kafka at {bootstrap}: {problem}");
    }
    let connection = &producer.client().context().connection;
    connection.set_connecting(true);
    let reached = wait(producer, tls.then_some(client), bootstrap, timeout, stop);
    connection.set_connecting(false);
    reached
}

/// `tls` is the client's config when it connects over TLS.
fn wait(
    producer: &SharedProducer,
    tls: Option<&ClientConfig>,
    bootstrap: &str,
    timeout: Duration,
    stop: &Stop,
) -> Result<()> {
    let started = Instant::now();
    let connection = &producer.client().context().connection;
    let mut reported = false;
    let mut probed = false;
    let mut next_report = started + PROGRESS_EVERY;
    loop {
        if producer
            .client()
            .fetch_metadata(None, Duration::from_millis(500))
            .is_ok_and(|md| !md.brokers().is_empty())
        {
            return Ok(());
        }
        if let Some(fatal) = connection.fatal() {
            let probe = tls.and_then(|c| tls_probe::diagnose(c, bootstrap));
            let cause = probe.unwrap_or_else(|| in_plain_words(&fatal));
            bail!("cannot connect to Kafka at {bootstrap}: {cause}");
        }
        let cause = connection
            .last()
            .unwrap_or_else(|| "no answer yet".to_string());
        // A broker that refuses a client certificate may just close the
        // connection, which librdkafka retries as if the network failed:
        // one handshake of our own says what it is.
        if let Some(client) = tls.filter(|_| !probed && connection.last().is_some()) {
            probed = true;
            if let Some(problem) = tls_probe::diagnose(client, bootstrap) {
                bail!("cannot connect to Kafka at {bootstrap}: {problem}");
            }
        }
        if stop.is_raised() {
            return Err(anyhow!(Interrupted).context(format!(
                "while connecting to Kafka at {bootstrap} ({cause})"
            )));
        }
        let waited = started.elapsed();
        if waited >= timeout {
            bail!(
                "cannot reach Kafka at {bootstrap} within {} s (`[kafka] connect_timeout_ms`): {cause}",
                timeout.as_secs()
            );
        }
        if !reported {
            reported = true;
            eprintln!(
                "streamplug: connecting to Kafka at {bootstrap} (waiting up to {} s; Ctrl-C stops)",
                timeout.as_secs()
            );
        }
        if Instant::now() >= next_report {
            next_report += PROGRESS_EVERY;
            tracing::info!(
                "still trying to reach Kafka at {bootstrap} ({} s of {} s): {cause}",
                waited.as_secs(),
                timeout.as_secs()
            );
        }
        stop.sleep(Duration::from_millis(200));
    }
}

/// librdkafka's reason for a failure retrying cannot mend, led by what it
/// means.
fn in_plain_words(reason: &str) -> String {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("authentication") {
        format!("authentication failed (check the user name and password): {reason}")
    } else if lower.contains("certificate verify failed") {
        format!("certificate not trusted: {reason}")
    } else {
        reason.to_string()
    }
}

/// An idempotent producer asks for its producer id when a metadata response
/// arrives while a connection to a broker (by its node id) is up, and
/// otherwise on a 500 ms timer. The checks above are answered over the
/// bootstrap connection before that one is up, so about half of all starts
/// stalled for 500 ms with the sources' windows filling (measured by the
/// bench's timelines: docs/performance.md). Asking again until a broker
/// answers by its id makes the request happen at once.
fn wait_for_broker_connection(producer: &SharedProducer, topics: &[TopicSpec]) {
    let Some(topic) = topics.first() else { return };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match producer
            .client()
            .fetch_metadata(Some(&topic.name), Duration::from_secs(1))
        {
            Ok(md) if md.orig_broker_id() >= 0 => return,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}
