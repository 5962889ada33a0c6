//! Where records are batched and moved: one thread per source drives
//! source → transforms → partitioner → the shared producer, one batch at a
//! time, within its in-flight caps.

// Batches are `Vec<u8>` because the generated bindings take `&Vec<u8>`.
#![allow(clippy::ptr_arg)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use streamplug_codec::{BatchReader, BatchWriter, HeaderIter, RecordRef};
use wasmtime::Engine;

use super::exactly_once::{Ended, Transactions};
use super::quota::QuotaSlot;
use super::stage::{Backoff, PluginSpec, Stage};
use super::stop::Stop;
use super::swap::SwapQueue;
use crate::format::{Codecs, Resolved};
use crate::plugin::bindings::{DeliveryReport, PollResult, Polled};
use crate::plugin::{PartitionerInstance, PluginError, SourceInstance, TransformInstance};
use crate::producer::admission::Ticket;
use crate::producer::sink::Failed;
use crate::producer::{BatchToken, OpenRun, RecordSink, SharedProducer};
use crate::stats::{Activity, FailureKind, PluginStats};

pub struct PipelineSpec {
    pub source: PluginSpec,
    pub transforms: Vec<PluginSpec>,
    pub partitioner: Option<PluginSpec>,
    /// The source's topic: where records without a topic of their own go.
    pub topic: String,
    /// Every topic this pipeline may produce to, with its partition count.
    pub topics: HashMap<String, u32>,
    /// What becomes of keys and values (formats, schema ids).
    pub codecs: Codecs,
    pub batch_size: u32,
    /// Largest record (payload bytes) that may be handed over.
    pub max_record_bytes: u64,
    /// The source's own quota and its tenant's shared one.
    pub quotas: Vec<Arc<QuotaSlot>>,
    pub sink: Arc<RecordSink>,
    /// This source's turn at the shared producer's window.
    pub ticket: Ticket,
    /// New versions of this pipeline's plugins, applied between batches.
    pub swaps: Arc<SwapQueue>,
    /// Set for an exactly-once source: its transactions (and its producer,
    /// which `PipelineEnv::producer` must be).
    pub transactions: Option<Transactions>,
}

pub struct PipelineEnv {
    pub engine: Engine,
    pub producer: Arc<SharedProducer>,
    pub stop: Arc<Stop>,
    pub backoff: Backoff,
    pub idle: Duration,
}

pub struct Pipeline {
    source: Stage<SourceInstance>,
    transforms: Vec<Stage<TransformInstance>>,
    partitioner: Option<Stage<PartitionerInstance>>,
    topic: String,
    topics: HashMap<String, u32>,
    /// Partitions of `topic`.
    default_count: u32,
    codecs: Codecs,
    batch_size: u32,
    max_record_bytes: u64,
    quotas: Vec<Arc<QuotaSlot>>,
    sink: Arc<RecordSink>,
    ticket: Ticket,
    /// Records this source may still hand over on its last grant.
    credit: u64,
    swaps: Arc<SwapQueue>,
    /// What the source was last told about its deliveries.
    reported: Reported,
    env: PipelineEnv,
    /// A transform or partitioner was given up on: the pipeline stops.
    halted: bool,
    transactions: Option<Transactions>,
}

#[derive(Default)]
struct Reported {
    committed_version: u64,
    failed: u64,
    failures: BTreeMap<String, u64>,
}

/// What became of a batch on its way through the transforms.
enum Transformed {
    /// The batch, its record count and payload bytes.
    Batch(Vec<u8>, u32, u64),
    /// Every record has been counted (failed or dropped) already.
    Gone,
}

impl Pipeline {
    pub fn new(spec: PipelineSpec, env: PipelineEnv) -> Self {
        let b = env.backoff;
        let i = env.stop.interrupt();
        Self {
            source: Stage::new(spec.source, b, i.clone()),
            transforms: spec
                .transforms
                .into_iter()
                .map(|t| Stage::new(t, b, i.clone()))
                .collect(),
            partitioner: spec.partitioner.map(|p| Stage::new(p, b, i.clone())),
            default_count: spec.topics.get(&spec.topic).copied().unwrap_or(0),
            topic: spec.topic,
            topics: spec.topics,
            codecs: spec.codecs,
            batch_size: spec.batch_size,
            max_record_bytes: spec.max_record_bytes,
            quotas: spec.quotas,
            sink: spec.sink,
            ticket: spec.ticket,
            credit: 0,
            swaps: spec.swaps,
            reported: Reported::default(),
            env,
            halted: false,
            transactions: spec.transactions,
        }
    }

    /// Runs until the source finishes or the stop signal is raised. Every
    /// batch taken from the source is handed over (or counted as failed)
    /// before this returns.
    /// Returns the source's last checkpoint, for a pipeline that takes over
    /// (after a config reload changed this one's shape).
    pub fn run(mut self) -> Option<Vec<u8>> {
        if !self.resolve_schemas() {
            return self.source.checkpoint();
        }
        loop {
            self.run_batches();
            if self.transactions.is_none() || self.end_transaction() {
                break;
            }
            // A last transaction that aborted is made again (the source went
            // back to the last commit), unless the host is stopping: then
            // the next run makes it.
            let aborted = self
                .transactions
                .as_ref()
                .is_some_and(|t| t.aborts_in_a_row > 0);
            if !aborted || self.env.stop.is_raised() || self.halted {
                break;
            }
        }
        if let Some(gate) = &self.sink.admission {
            gate.release(std::mem::take(&mut self.credit), 0);
        }
        match &self.transactions {
            Some(t) => t.committed(),
            None => self.source.checkpoint(),
        }
    }

    /// Starts the source from a checkpoint instead of afresh.
    pub fn resume_from(mut self, checkpoint: Option<Vec<u8>>) -> Self {
        if let Some(t) = &mut self.transactions {
            t.resume_from(checkpoint.clone());
        }
        if let Some(c) = checkpoint {
            self.source.set_checkpoint(c);
        }
        self
    }

    /// Commits the open transaction of an exactly-once source, with the
    /// source's checkpoint. If it aborts, the source goes back to the last
    /// committed checkpoint and makes the same records again. True if the
    /// pipeline should stop.
    fn end_transaction(&mut self) -> bool {
        let Some(t) = self.transactions.as_mut() else {
            return false;
        };
        let name = &*self.source.spec.name;
        match t.end(&self.sink, self.source.checkpoint().as_ref()) {
            Ended::Committed => false,
            Ended::Aborted(cause) => {
                if t.aborts_in_a_row > self.env.backoff.max_restarts {
                    let why = format!(
                        "transaction aborted: {cause}; giving up after {} aborts in a row (runtime.max_restarts = {})",
                        t.aborts_in_a_row, self.env.backoff.max_restarts
                    );
                    self.give_up(&why);
                    return true;
                }
                tracing::warn!(
                    plugin = name,
                    "transaction aborted: {cause}; going back to the last committed checkpoint"
                );
                self.source.rewind(t.committed());
                self.env.stop.sleep(self.env.backoff.initial);
                false
            }
            Ended::Fatal(cause) => {
                self.give_up(&cause);
                true
            }
        }
    }

    /// An exactly-once source that cannot go on stops; nothing after its
    /// last committed checkpoint is visible.
    fn give_up(&mut self, cause: &str) {
        tracing::error!(
            plugin = &*self.source.spec.name,
            "exactly-once source stops: {cause}; nothing after the last committed checkpoint is visible, and the next run resumes from it"
        );
        self.source
            .spec
            .stats
            .gave_up
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.halted = true;
    }

    /// Resolves schema ids before the first poll, waiting for the registry
    /// as long as it is away. False if the source must not run: it is
    /// stopping, or the registry refused its schema (it stops, with the
    /// registry's reason).
    fn resolve_schemas(&mut self) -> bool {
        let name = self.source.spec.name.clone();
        let stop = self.env.stop.clone();
        let wait = |d: Duration| {
            stop.sleep(d);
            !stop.is_raised()
        };
        match self.codecs.resolve(&name, &wait) {
            Resolved::Ready => true,
            Resolved::Stopped => false,
            Resolved::Refused(cause) => {
                tracing::error!(plugin = &*name, "source stops: {cause}");
                self.source
                    .spec
                    .stats
                    .gave_up
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                false
            }
        }
    }

    fn run_batches(&mut self) {
        let name = self.source.spec.name.clone();
        let stats = self.source.spec.stats.clone();
        loop {
            if self.env.stop.is_raised() {
                break;
            }
            // Between batches: where new plugin versions take over.
            for request in self.swaps.take() {
                self.swap(request);
            }
            if self.transactions.as_ref().is_some_and(Transactions::due) && self.end_transaction() {
                break;
            }
            if self.report_deliveries() {
                break;
            }
            let in_flight = &self.sink.in_flight;
            let at_cap = (!in_flight.has_room()).then(Instant::now);
            let room = in_flight.wait_for_room(u64::from(self.batch_size), &self.env.stop);
            if let Some(since) = at_cap {
                PluginStats::waited(&stats.waited_caps_ns, since);
            }
            let Some(room) = room else {
                break;
            };
            let max_bytes = self.byte_budget();
            let Some(source) = self.source.get(&self.env.engine, &self.env.stop) else {
                break;
            };
            let budget = Budget {
                records: room,
                bytes: source.takes_byte_budget().then_some(max_bytes),
            };
            match source.poll(room as u32, max_bytes) {
                Ok(PollResult::Records(Polled {
                    records: batch,
                    checkpoint,
                })) => {
                    match check_batch(&batch, Some(budget)) {
                        Ok((n, bytes)) => {
                            // Healthy only once the output is valid, so a
                            // plugin returning malformed batches backs off.
                            self.source.healthy();
                            PluginStats::add(&stats.records_in, u64::from(n));
                            if let Some(Err(cause)) =
                                self.transactions.as_mut().map(Transactions::begin)
                            {
                                self.give_up(&cause);
                                break;
                            }
                            // The batch's checkpoint becomes committable once
                            // Kafka has acknowledged all its records.
                            let token = BatchToken::open(&self.sink, checkpoint.clone());
                            let transformed = self.transform(batch, n, bytes);
                            if let Transformed::Batch(out, n, bytes) = self.encode(transformed) {
                                for quota in &self.quotas {
                                    // Stopped while throttled: hand over anyway.
                                    let waited = &stats.waited_quota_ns;
                                    quota.admit(u64::from(n), bytes, &self.env.stop, waited);
                                }
                                self.produce(&out, &token);
                            }
                            token.seal();
                            // Handed over (or counted as failed): a new
                            // instance continues after these records.
                            if let Some(c) = checkpoint {
                                self.source.set_checkpoint(c);
                            }
                            if self.halted {
                                break;
                            }
                        }
                        Err(why) => {
                            let e = PluginError::Failed(format!(
                                "invalid output from poll-records: {why}"
                            ));
                            if self.source.fail(&e, &self.env.stop) {
                                break;
                            }
                        }
                    }
                }
                Ok(PollResult::Idle(ms)) => {
                    self.source.healthy();
                    stats.set_activity(Activity::Idle);
                    let wait = if ms == 0 {
                        self.env.idle
                    } else {
                        Duration::from_millis(u64::from(ms))
                    };
                    self.env.stop.sleep(wait);
                }
                Ok(PollResult::Finished) => {
                    tracing::info!(plugin = &*name, "source finished");
                    break;
                }
                Err(PluginError::Returned(msg)) => {
                    stats.returned_error(&format!("poll returned an error: {msg}"));
                    tracing::warn!(plugin = &*name, "poll returned an error: {msg}");
                    self.env.stop.sleep(self.env.backoff.initial);
                }
                Err(e) => {
                    if self.source.fail(&e, &self.env.stop) {
                        break;
                    }
                }
            }
        }
    }

    /// The byte budget of the next poll: the room left under the source's
    /// in-flight byte cap, and at most an eighth of the smallest memory
    /// limit among the plugins the batch passes through. A batch sits in a
    /// transform's memory as input and output at once, and a writer that
    /// grows its buffer by doubling holds the old and the new buffer while
    /// it copies: a quarter was measured to be too much (a passthrough of
    /// 17 MB batches asked for 77 MiB). So a source of 1 MB values under the
    /// default 64 MiB limit gets batches of about 9 records instead of
    /// running out of memory on its first.
    fn byte_budget(&self) -> u64 {
        let smallest_memory = std::iter::once(&self.source.spec)
            .chain(self.transforms.iter().map(|t| &t.spec))
            .map(|spec| spec.limits.memory.0)
            .min()
            .unwrap_or(u64::MAX);
        let room = self.sink.in_flight.bytes_room().max(1);
        room.min((smallest_memory / MEMORY_PER_BATCH_BYTE).max(1))
    }

    /// Tells the source what became of its records, if anything changed
    /// since it was last told. True if the pipeline should stop.
    fn report_deliveries(&mut self) -> bool {
        let stats = &self.source.spec.stats;
        let committed = self
            .sink
            .checkpoints
            .committed_since(self.reported.committed_version);
        let failed = stats.failed.load(std::sync::atomic::Ordering::Relaxed);
        if committed.is_none() && failed == self.reported.failed {
            return false;
        }
        let failures = stats.failures();
        let news: Vec<(String, u64)> = failures
            .iter()
            .filter_map(|(cause, n)| {
                let before = self.reported.failures.get(cause).copied().unwrap_or(0);
                (*n > before).then(|| (cause.clone(), n - before))
            })
            .collect();
        let committed_version = committed
            .as_ref()
            .map_or(self.reported.committed_version, |(_, v)| *v);
        let report = DeliveryReport {
            committed: committed.and_then(|(c, _)| c),
            failed: news,
        };
        self.reported = Reported {
            committed_version,
            failed,
            failures,
        };
        let Some(source) = self.source.get(&self.env.engine, &self.env.stop) else {
            return true;
        };
        match source.on_delivery(&report) {
            Ok(()) => false,
            Err(e) => self.source.fail(&e, &self.env.stop),
        }
    }

    /// Hands a new version to the stage that runs it.
    fn swap(&mut self, request: super::swap::SwapRequest) {
        let engine = &self.env.engine;
        let (spec, at) = (request.spec, request.requested);
        let name = spec.name.clone();
        if self.source.spec.name == name {
            self.source.swap(engine, spec, at);
        } else if let Some(t) = self.transforms.iter_mut().find(|t| t.spec.name == name) {
            t.swap(engine, spec, at);
        } else if let Some(p) = self.partitioner.as_mut().filter(|p| p.spec.name == name) {
            p.swap(engine, spec, at);
        }
    }

    /// Runs a batch through the transforms. A transform that fails is
    /// restarted and given the same batch again, so no record is lost to a
    /// crash; one that returns an error has the batch's records counted as
    /// failed with its message.
    fn transform(&mut self, mut batch: Vec<u8>, mut count: u32, mut bytes: u64) -> Transformed {
        for stage in &mut self.transforms {
            let stats = stage.spec.stats.clone();
            loop {
                let Some(t) = stage.get(&self.env.engine, &self.env.stop) else {
                    let cause = if stage.gave_up() {
                        self.halted = true;
                        format!(
                            "transform `{}` was given up on: {}",
                            stage.spec.name,
                            stage.gave_up_cause()
                        )
                    } else {
                        format!("shutdown while transform `{}` was failing", stage.spec.name)
                    };
                    reject_batch(&self.sink, &self.topic, &batch, &cause);
                    return Transformed::Gone;
                };
                match t.process(&batch) {
                    Ok(out) => match check_batch(&out, None) {
                        Ok((n, out_bytes)) => {
                            stage.healthy();
                            PluginStats::add(&stats.records_in, u64::from(count));
                            PluginStats::add(&stats.records_out, u64::from(n));
                            batch = out;
                            count = n;
                            bytes = out_bytes;
                            break;
                        }
                        Err(why) => {
                            let e =
                                PluginError::Failed(format!("invalid output from process: {why}"));
                            stage.fail(&e, &self.env.stop);
                        }
                    },
                    Err(PluginError::Returned(msg)) => {
                        let cause =
                            format!("transform `{}` returned an error: {msg}", stage.spec.name);
                        stats.returned_error(&cause);
                        tracing::warn!(plugin = &*stage.spec.name, "{cause}");
                        reject_batch(&self.sink, &self.topic, &batch, &cause);
                        return Transformed::Gone;
                    }
                    Err(e) => {
                        stage.fail(&e, &self.env.stop);
                    }
                }
            }
        }
        Transformed::Batch(batch, count, bytes)
    }

    /// Encodes keys and values in their formats; records that do not fit
    /// are counted and dead-lettered here.
    fn encode(&self, t: Transformed) -> Transformed {
        match t {
            Transformed::Batch(batch, ..) if !self.codecs.is_passthrough() => {
                match self.codecs.encode(&batch, &self.topic, &self.sink) {
                    Some((out, n, bytes)) if n > 0 => Transformed::Batch(out, n, bytes),
                    _ => Transformed::Gone,
                }
            }
            other => other,
        }
    }

    /// Hands a (valid) batch to the producer, in runs of records that share
    /// one reservation of the caps and the shared window.
    fn produce(&mut self, batch: &Vec<u8>, token: &Arc<BatchToken>) {
        let partitions = match self.partition(batch) {
            Ok(p) => p,
            Err(cause) => {
                reject_batch(&self.sink, &self.topic, batch, &cause);
                return;
            }
        };
        let Ok(reader) = BatchReader::new(batch) else {
            return;
        };
        let total = u64::from(reader.len());
        let sink = self.sink.clone();
        let mut run: Option<OpenRun> = None;
        let mut produced = 0;
        for (i, record) in reader.enumerate() {
            let Ok(record) = record else { break };
            if !run.as_ref().is_some_and(OpenRun::has_room) {
                if let Some(full) = run.take() {
                    self.close(full);
                }
                run = Some(self.open_run(token, total - i as u64));
            }
            let Some(open) = run.as_mut() else { break };
            let chosen = partitions.get(i).copied().flatten();
            let Some((topic, partition, bytes)) = self.route(&record, chosen) else {
                continue;
            };
            match self
                .env
                .producer
                .send(open, topic, &record, partition, bytes)
            {
                Ok(()) => produced += 1,
                Err(refused) => sink.reject(
                    Failed {
                        value_too_large: refused.too_large,
                        ..failed(&record, topic)
                    },
                    if refused.too_large {
                        FailureKind::OverCap
                    } else {
                        FailureKind::ProducerRefused
                    },
                    &refused.cause,
                ),
            }
        }
        if let Some(open) = run {
            self.close(open);
        }
        PluginStats::add(&sink.stats.produced, produced);
        if let Some(t) = &mut self.transactions {
            t.handed(produced);
        }
    }

    /// Waits for room under the source's caps and, with a shared window, for
    /// its turn there; then opens a run for at most `left` records. The caps
    /// hold within a batch too: a transform that fans one batch out into
    /// millions of records waits here, on its own, instead of filling the
    /// producer queue all tenants share. (At shutdown the records in hand
    /// are handed over regardless.)
    fn open_run(&mut self, token: &Arc<BatchToken>, left: u64) -> OpenRun {
        let stop = &self.env.stop;
        let stats = &self.sink.stats;
        // Only this thread adds to its records in flight: room now is room
        // when the wait begins.
        let at_cap = (!self.sink.in_flight.has_room()).then(Instant::now);
        let (mut records, bytes) = self
            .sink
            .in_flight
            .wait_for_space(stop)
            .unwrap_or((u64::MAX, u64::MAX));
        if let Some(since) = at_cap {
            PluginStats::waited(&stats.waited_caps_ns, since);
        }
        if let Some(gate) = &self.sink.admission {
            if self.credit == 0 {
                self.credit = gate
                    .acquire(self.ticket, left, stop, &stats.waited_window_ns)
                    .unwrap_or_else(|| gate.reserve(left));
            }
            records = records.min(self.credit);
        }
        OpenRun::open(token, records.min(left), bytes)
    }

    /// Publishes a run's records as in flight; they spent as much credit.
    fn close(&mut self, run: OpenRun) {
        if self.sink.admission.is_some() {
            self.credit = self.credit.saturating_sub(run.len());
        }
        run.close(&self.sink);
    }

    /// Where a record goes (topic, partition) and its payload bytes; `None`
    /// if it is refused here (counted and dead-lettered with its cause).
    fn route<'a>(
        &'a self,
        record: &RecordRef<'a>,
        chosen: Option<u32>,
    ) -> Option<(&'a str, Option<i32>, u64)> {
        let sink = &self.sink;
        let size = record.payload_len() as u64;
        if size > self.max_record_bytes {
            let limit = self.max_record_bytes;
            sink.reject(
                Failed {
                    value_too_large: true,
                    ..failed(record, self.topic.as_str())
                },
                FailureKind::OverCap,
                &format!("record of {size} bytes is over max_record_bytes ({limit})"),
            );
            return None;
        }
        // Most records carry no topic: skip the lookup for those.
        let (topic, count) = match record.topic {
            None => (self.topic.as_str(), Some(self.default_count)),
            Some(t) => (t, self.topics.get(t).copied()),
        };
        let Some(count) = count else {
            sink.reject(
                failed(record, topic),
                FailureKind::InvalidRoute,
                &format!("topic `{topic}` is not one this pipeline may produce to"),
            );
            return None;
        };
        let partition = match (record.partition, chosen) {
            (Some(p), _) if p < 0 || p as u32 >= count => {
                sink.reject(
                    failed(record, topic),
                    FailureKind::InvalidRoute,
                    &format!("record asks for partition {p}, topic `{topic}` has {count}"),
                );
                return None;
            }
            (Some(p), _) => Some(p),
            (None, Some(p)) if p >= count => {
                sink.reject(
                    failed(record, topic),
                    FailureKind::InvalidRoute,
                    &format!("partitioner chose partition {p}, topic `{topic}` has {count}"),
                );
                return None;
            }
            (None, Some(p)) => Some(p as i32),
            (None, None) => None,
        };
        Some((topic, partition, size))
    }

    /// The partitioner's choice for each record, grouped by topic so that it
    /// sees each topic's partition count. Empty when there is no partitioner.
    fn partition(&mut self, batch: &Vec<u8>) -> Result<Vec<Option<u32>>, String> {
        let Some(stage) = self.partitioner.as_mut() else {
            return Ok(Vec::new());
        };
        let reader = BatchReader::new(batch).map_err(|e| e.to_string())?;
        let n = reader.len() as usize;
        // Records per topic, in batch order; most batches have one topic.
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, r) in reader.enumerate() {
            let topic = r.map_err(|e| e.to_string())?.topic.unwrap_or(&self.topic);
            match groups.iter_mut().find(|(t, _)| *t == topic) {
                Some((_, idx)) => idx.push(i),
                None => groups.push((topic, vec![i])),
            }
        }
        let mut out = vec![None; n];
        // Decoded once, and only if the batch mixes topics.
        let mut all_records = None;
        for (topic, indices) in groups {
            let Some(&count) = self.topics.get(topic) else {
                continue;
            };
            let sub;
            let input = if indices.len() == n {
                batch
            } else {
                let records = all_records.get_or_insert_with(|| {
                    BatchReader::new(batch)
                        .map(|r| r.collect::<Vec<_>>())
                        .unwrap_or_default()
                });
                let mut w = BatchWriter::new();
                for &i in &indices {
                    if let Some(Ok(r)) = records.get(i) {
                        w.push(r);
                    }
                }
                sub = w.finish();
                &sub
            };
            let chosen = loop {
                let Some(p) = stage.get(&self.env.engine, &self.env.stop) else {
                    if stage.gave_up() {
                        self.halted = true;
                        return Err(format!(
                            "partitioner `{}` was given up on: {}",
                            stage.spec.name,
                            stage.gave_up_cause()
                        ));
                    }
                    return Err(format!(
                        "shutdown while partitioner `{}` was failing",
                        stage.spec.name
                    ));
                };
                match p.partition(topic, count, input) {
                    Ok(v) if v.len() == indices.len() => {
                        stage.healthy();
                        break v;
                    }
                    Ok(v) => {
                        let e = PluginError::Failed(format!(
                            "invalid output from partition: {} partitions for {} records",
                            v.len(),
                            indices.len()
                        ));
                        stage.fail(&e, &self.env.stop);
                    }
                    Err(PluginError::Returned(msg)) => {
                        let cause =
                            format!("partitioner `{}` returned an error: {msg}", stage.spec.name);
                        stage.spec.stats.returned_error(&cause);
                        return Err(cause);
                    }
                    Err(e) => {
                        stage.fail(&e, &self.env.stop);
                    }
                }
            };
            for (i, p) in indices.into_iter().zip(chosen) {
                out[i] = Some(p);
            }
        }
        Ok(out)
    }
}

/// A record as the dead-letter path needs it.
fn failed<'a>(record: &RecordRef<'a>, topic: &'a str) -> Failed<'a, HeaderIter<'a>> {
    Failed {
        value_too_large: false,
        topic: record.topic.unwrap_or(topic),
        key: record.key,
        value: record.value,
        timestamp: record.timestamp,
        headers: record.headers.iter(),
    }
}

/// Rejects every record of a (valid) batch with one cause.
fn reject_batch(sink: &RecordSink, topic: &str, batch: &[u8], cause: &str) {
    let Ok(reader) = BatchReader::new(batch) else {
        return;
    };
    for record in reader.flatten() {
        sink.reject(failed(&record, topic), FailureKind::PluginError, cause);
    }
}

/// Bytes of memory limit per byte of batch budget: see `byte_budget`.
pub(crate) const MEMORY_PER_BATCH_BYTE: u64 = 8;

/// What a source was asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) records: u64,
    /// The encoded batch without its last record must be below this (the
    /// last may pass it, as the in-flight caps allow). `None` for a source
    /// that was not told a byte budget (contract 0.1.0).
    pub(crate) bytes: Option<u64>,
}

/// Checks a batch from a plugin: well formed, and within what was asked.
/// Returns its record count and payload bytes.
pub(crate) fn check_batch(batch: &[u8], max: Option<Budget>) -> Result<(u32, u64), String> {
    let reader = BatchReader::new(batch).map_err(|e| e.to_string())?;
    let n = reader.len();
    if let Some(max) = max
        && u64::from(n) > max.records
    {
        return Err(format!(
            "{n} records returned, at most {} were asked for",
            max.records
        ));
    }
    let mut bytes = 0;
    let mut last_len = 0;
    for record in reader {
        let record = record.map_err(|e| e.to_string())?;
        bytes += record.payload_len() as u64;
        last_len = record.encoded_len();
    }
    if let Some(max_bytes) = max.and_then(|m| m.bytes) {
        let before_last = (batch.len() - last_len) as u64;
        if n > 1 && before_last >= max_bytes {
            return Err(format!(
                "a batch of {} bytes returned, over the budget of {max_bytes} bytes by more than its last record ({last_len} bytes)",
                batch.len()
            ));
        }
    }
    Ok((n, bytes))
}
