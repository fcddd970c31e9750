//! The consumer side: scored posts in, durable results out.
//!
//! For each batch of `murmur.posts.scored.v1`:
//! 1. invalid posts are rejected (dead-letter topic), the rest stored in one Postgres transaction;
//! 2. the posts stored for the first time feed the [`Engine`] (a replayed batch feeds nothing);
//! 3. what the engine closed (buckets, detection runs) is persisted, then the alert outbox is
//!    produced to `murmur.alerts.v1` (acknowledged) and handed to the gRPC alert streams.
//!
//! The batch's offsets are stored by the common consumer only after this returns `Ok`. Results
//! the engine produced but that could not be persisted yet stay queued and are retried first; the
//! engine snapshot is only taken when that queue is empty, so a crash at any point is repaired by
//! re-feeding the posts stored after the snapshot (every write is an idempotent upsert).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use murmur_common::kafka::consumer::{BatchHandler, BatchOutcome, Envelope, Rejection, TransientError};
use murmur_common::kafka::producer::{EventProducer, OutgoingMessage};
use murmur_proto::events::v1::{Alert, ScoredPost};
use prost::Message;
use tokio::sync::{broadcast, Mutex};

use crate::convert;
use crate::engine::{Engine, EngineOutput};
use crate::metrics::AggregatorMetrics;
use crate::store::Store;
use murmur_detect::types::TimestampMs;

/// Name of the engine's snapshot row.
pub const SNAPSHOT_NAME: &str = "default";
/// Longest accepted post id, in bytes.
const MAX_ID_BYTES: usize = 512;
/// Alerts produced per outbox round.
const OUTBOX_BATCH: i64 = 500;

/// Live alerts for the gRPC streams: `(store sequence, alert)` once produced to the topic.
pub type AlertHub = broadcast::Sender<(i64, Alert)>;

/// Event-time progress per input partition, to hold the watermark at the slowest active one.
///
/// Kafka delivers partitions unevenly (a backlog is read one fetch at a time), so a partition read
/// ahead must not close windows the others still feed. The cap is the minimum over partitions of
/// the latest event time seen on each; a partition that delivered nothing for `idle_timeout` no
/// longer holds the others back (a partition never seen holds them for `idle_timeout` after start).
#[derive(Debug)]
pub struct PartitionClock {
    latest: HashMap<i32, (TimestampMs, Instant)>,
    expected: Vec<i32>,
    started: Instant,
    idle_timeout: Duration,
}

impl PartitionClock {
    /// A clock over the topic's `partitions`.
    pub fn new(partitions: Vec<i32>, idle_timeout: Duration) -> PartitionClock {
        PartitionClock { latest: HashMap::new(), expected: partitions, started: Instant::now(), idle_timeout }
    }

    /// Records a post of `partition` at `time`.
    pub fn observe(&mut self, partition: i32, time: TimestampMs) {
        let entry = self.latest.entry(partition).or_insert((time, Instant::now()));
        entry.0 = entry.0.max(time);
        entry.1 = Instant::now();
    }

    /// The watermark cap (`None`: no partition holds it back).
    pub fn cap(&self) -> Option<TimestampMs> {
        let mut cap: Option<TimestampMs> = None;
        for partition in &self.expected {
            if !self.latest.contains_key(partition) && self.started.elapsed() < self.idle_timeout {
                return Some(TimestampMs::MIN);
            }
        }
        for (time, seen) in self.latest.values() {
            if seen.elapsed() < self.idle_timeout {
                cap = Some(cap.map_or(*time, |cap| cap.min(*time)));
            }
        }
        cap
    }
}

/// Mutable side of the handler.
pub struct PipelineState {
    engine: Engine,
    pending: VecDeque<EngineOutput>,
    last_snapshot: Instant,
    clock: PartitionClock,
}

/// The batch handler of the scored-posts consumer.
pub struct AggregatorHandler {
    state: Mutex<PipelineState>,
    store: Store,
    producer: EventProducer,
    alerts_topic: String,
    hub: AlertHub,
    metrics: AggregatorMetrics,
    snapshot_interval: Duration,
}

/// Where alerts go: the topic (through the producer), then the gRPC streams (the hub).
pub struct AlertSink {
    /// Producer of the alert topic.
    pub producer: EventProducer,
    /// The alert topic.
    pub topic: String,
    /// Live alerts for the streams.
    pub hub: AlertHub,
}

/// Why a scored post is refused (it goes to the dead-letter topic).
pub fn validate(scored: &ScoredPost) -> Result<(), String> {
    let Some(post) = scored.post.as_ref() else { return Err("scored post without a post".to_string()) };
    if post.id.trim().is_empty() {
        return Err("post without an id".to_string());
    }
    if post.id.len() > MAX_ID_BYTES {
        return Err(format!("post id of {} bytes (limit {MAX_ID_BYTES})", post.id.len()));
    }
    if post.channel.is_empty() {
        return Err(format!("post {} without a channel", post.id));
    }
    if post.created_at.is_none() && post.observed_at.is_none() {
        return Err(format!("post {} has neither created_at nor observed_at", post.id));
    }
    Ok(())
}

/// Removes NUL characters, which Postgres text cannot hold, from every string of the post.
pub fn sanitize(scored: &mut ScoredPost) {
    fn clean(value: &mut String) {
        if value.contains('\0') {
            *value = value.replace('\0', "");
        }
    }
    clean(&mut scored.language);
    if let Some(sentiment) = scored.sentiment.as_mut() {
        clean(&mut sentiment.model);
    }
    if let Some(post) = scored.post.as_mut() {
        for value in [
            &mut post.id,
            &mut post.channel,
            &mut post.author_id,
            &mut post.parent_id,
            &mut post.root_id,
            &mut post.text,
            &mut post.permalink,
            &mut post.language_hint,
            &mut post.forwarded_from,
            &mut post.title,
        ] {
            clean(value);
        }
        post.mentions.iter_mut().for_each(clean);
        post.hashtags.iter_mut().for_each(clean);
    }
}

fn transient(context: &str) -> impl Fn(sqlx::Error) -> TransientError + '_ {
    move |error| TransientError(anyhow::anyhow!("{context}: {error}"))
}

impl AggregatorHandler {
    /// A handler around a (restored) engine, publishing alerts through `alerts`.
    pub fn new(
        engine: Engine,
        store: Store,
        alerts: AlertSink,
        metrics: AggregatorMetrics,
        snapshot_interval: Duration,
        clock: PartitionClock,
    ) -> AggregatorHandler {
        AggregatorHandler {
            state: Mutex::new(PipelineState { engine, pending: VecDeque::new(), last_snapshot: Instant::now(), clock }),
            store,
            producer: alerts.producer,
            alerts_topic: alerts.topic,
            hub: alerts.hub,
            metrics,
            snapshot_interval,
        }
    }

    /// Stores and processes already-decoded scored posts with their partition (the consumer's path
    /// without Kafka; the benchmark feeds it directly). Returns how many were new.
    pub async fn process(&self, batch: Vec<(i32, ScoredPost)>) -> Result<usize, TransientError> {
        let mut state = self.state.lock().await;
        self.flush(&mut state).await?;
        let mut posts = Vec::with_capacity(batch.len());
        for (partition, scored) in batch {
            if let Some(post) = scored.post.as_ref() {
                let created = post.created_at.as_ref().map(convert::timestamp_ms);
                let observed = post.observed_at.as_ref().map(convert::timestamp_ms);
                let observed = observed.or(created).unwrap_or_default();
                state.clock.observe(partition, convert::clamp_created(created.unwrap_or(observed), observed));
            }
            posts.push(scored);
        }
        let started = Instant::now();
        let stored = self.store.store_batch(&posts).await.map_err(transient("storing the batch"))?;
        self.metrics.store_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.posts_stored.inc_by(stored.new_posts.len() as u64);
        self.metrics.posts_duplicate.inc_by(stored.duplicates as u64);
        let new = stored.new_posts.len();
        let cap = state.clock.cap();
        let started = Instant::now();
        let outputs = if new > 0 || !stored.late_replies.is_empty() {
            let outputs = state.engine.ingest(&stored.new_posts, &stored.late_replies, cap);
            state.engine.set_last_seq(stored.max_seq);
            outputs
        } else {
            state.engine.advance_watermark(cap)
        };
        self.metrics.engine_seconds.observe(started.elapsed().as_secs_f64());
        state.pending.extend(outputs);
        self.flush(&mut state).await?;
        let (actors, pairs) = state.engine.graph_size();
        self.metrics.graph_actors.set(actors as i64);
        self.metrics.graph_pairs.set(pairs as i64);
        self.metrics.window_overflow.set(state.engine.window_overflow() as i64);
        if state.last_snapshot.elapsed() >= self.snapshot_interval {
            self.snapshot(&mut state).await?;
        }
        Ok(new)
    }

    /// Persists queued results, then produces the alert outbox.
    async fn flush(&self, state: &mut PipelineState) -> Result<(), TransientError> {
        while let Some(output) = state.pending.front() {
            match output {
                EngineOutput::Bucket(bucket) => {
                    self.store.persist_bucket(bucket).await.map_err(transient("storing a weak-signal bucket"))?;
                    self.metrics.buckets_closed.inc();
                    self.metrics.signals_fired.inc_by(bucket.fired.len() as u64);
                }
                EngineOutput::Detection(run) => {
                    let started = Instant::now();
                    self.store.persist_detection(run).await.map_err(transient("storing a detection run"))?;
                    self.metrics.detection_runs.inc();
                    self.metrics.persist_seconds.observe(started.elapsed().as_secs_f64());
                    self.metrics.communities.set(run.communities.len() as i64);
                    tracing::info!(
                        window_end = run.window_end,
                        communities = run.communities.len(),
                        micro = run.communities.iter().filter(|community| community.is_micro).count(),
                        events = run.events.len(),
                        alerts = run.alerts.len(),
                        "detection run stored"
                    );
                }
            }
            state.pending.pop_front();
        }
        self.publish_outbox().await
    }

    /// Produces stored, unpublished alerts (key = subject), marks them, and hands them to the streams.
    pub async fn publish_outbox(&self) -> Result<(), TransientError> {
        loop {
            let alerts = self.store.unpublished_alerts(OUTBOX_BATCH).await.map_err(transient("reading the outbox"))?;
            if alerts.is_empty() {
                return Ok(());
            }
            let messages = alerts
                .iter()
                .map(|(_, alert)| OutgoingMessage {
                    key: alert.subject.clone(),
                    payload: alert.encode_to_vec(),
                    headers: Vec::new(),
                })
                .collect();
            self.producer
                .send_all::<Alert>(&self.alerts_topic, messages)
                .await
                .map_err(|error| TransientError(anyhow::anyhow!("producing alerts: {error}")))?;
            let seqs: Vec<i64> = alerts.iter().map(|(seq, _)| *seq).collect();
            self.store.mark_published(&seqs).await.map_err(transient("marking alerts published"))?;
            for (seq, alert) in alerts {
                self.metrics.count_alert(alert.kind);
                // No subscriber is fine.
                let _ = self.hub.send((seq, alert));
            }
        }
    }

    async fn snapshot(&self, state: &mut PipelineState) -> Result<(), TransientError> {
        if !state.pending.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let bytes = state.engine.snapshot().map_err(TransientError)?;
        self.store
            .save_snapshot(SNAPSHOT_NAME, state.engine.last_seq(), &bytes)
            .await
            .map_err(transient("saving the detector snapshot"))?;
        state.last_snapshot = Instant::now();
        self.metrics.snapshot_bytes.set(bytes.len() as i64);
        tracing::debug!(bytes = bytes.len(), seconds = started.elapsed().as_secs_f64(), "detector snapshot saved");
        Ok(())
    }

    /// Lets the watermark move without new posts (a slow partition went idle): call periodically.
    pub async fn tick(&self) -> Result<(), TransientError> {
        self.process(Vec::new()).await.map(|_| ())
    }

    /// Persists what is queued and saves a snapshot (at shutdown).
    pub async fn checkpoint(&self) -> Result<(), TransientError> {
        let mut state = self.state.lock().await;
        self.flush(&mut state).await?;
        self.snapshot(&mut state).await
    }
}

impl BatchHandler for AggregatorHandler {
    type Event = ScoredPost;

    async fn handle(&self, batch: &[Envelope<ScoredPost>]) -> Result<BatchOutcome, TransientError> {
        let mut rejected = Vec::new();
        let mut posts = Vec::with_capacity(batch.len());
        for (index, envelope) in batch.iter().enumerate() {
            match validate(&envelope.event) {
                Ok(()) => {
                    let mut post = envelope.event.clone();
                    sanitize(&mut post);
                    posts.push((envelope.partition, post));
                }
                Err(reason) => {
                    self.metrics.posts_rejected.inc();
                    rejected.push(Rejection { index, reason });
                }
            }
        }
        self.process(posts).await?;
        Ok(BatchOutcome { rejected })
    }
}
