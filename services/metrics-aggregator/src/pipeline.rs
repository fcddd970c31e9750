//! The consumer side: scored posts in, durable results out.
//!
//! For each batch of `murmur.posts.scored.v1`, the [`AggregatorHandler`] (on the consumer's task):
//! 1. rejects invalid posts (dead-letter topic) and stores the rest in one Postgres transaction;
//! 2. queues the posts stored for the first time (a replayed batch queues nothing new) for the
//!    [`DetectionWorker`], with the watermark cap of the partitions seen so far;
//! 3. returns, and the common consumer stores the batch's offsets.
//!
//! The [`DetectionWorker`] (its own task; the engine's CPU work on the blocking pool) feeds the
//! [`Engine`], persists what it closed (buckets, detection runs), produces the alert outbox to
//! `murmur.alerts.v1` (acknowledged) and hands the alerts to the gRPC streams.
//!
//! Offsets follow the posts, not the derived results: the engine's state is a function of the
//! stored posts. The worker's snapshot records the last post sequence number the engine had taken
//! in, and is only taken when no result is waiting to be persisted; a restart loads it and re-feeds
//! the posts stored after it. So a crash at any point (a batch stored but not yet in the engine,
//! a detection run computed but not persisted) is repaired on restart, and every write is an
//! idempotent upsert with deterministic alert ids.

use std::borrow::{Borrow, Cow};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use murmur_common::kafka::consumer::{BatchHandler, BatchOutcome, Envelope, Rejection, TransientError};
use murmur_common::kafka::producer::{EventProducer, OutgoingMessage};
use murmur_proto::events::v1::{Alert, ScoredPost};
use prost::Message;
use tokio::sync::{broadcast, mpsc, oneshot, Mutex};
use tokio_util::sync::CancellationToken;

use crate::convert;
use crate::engine::{Engine, EngineOutput};
use crate::metrics::AggregatorMetrics;
use crate::store::{Store, StoredBatch};
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

/// Work for the detection worker, in the order the posts were stored.
enum Work {
    /// Posts stored for the first time (and replies whose parent just arrived), with the watermark
    /// cap observed after them.
    Ingest { stored: StoredBatch, cap: Option<TimestampMs> },
    /// Lets the watermark move without new posts.
    Tick { cap: Option<TimestampMs> },
    /// Persists everything queued and saves a snapshot, then answers; `last` also stops the worker.
    Checkpoint { last: bool, done: oneshot::Sender<Result<(), TransientError>> },
}

/// Batches the detection worker may have queued before the consumer waits for it.
const WORK_QUEUE: usize = 16;

/// The consumer's side: stores each batch, then queues it for the [`DetectionWorker`].
///
/// The batch's offsets are stored as soon as its posts are committed to Postgres: the posts are
/// what must not be lost, and everything the engine derives from them is rebuilt on restart from
/// the latest snapshot plus the posts stored after it (by `seq`). So a post is queryable one
/// transaction after it is read, whatever a detection run costs, and storing the next batch
/// overlaps the engine's work on the previous one.
pub struct AggregatorHandler {
    store: Store,
    /// The partition clock and the queue, locked together so the watermark a tick sends never
    /// passes posts that are stored but not queued yet.
    sequencer: Mutex<(PartitionClock, mpsc::Sender<Work>)>,
    metrics: AggregatorMetrics,
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

/// Owns the [`Engine`]: feeds it the stored posts, persists what it closes (buckets, detection
/// runs), produces the alert outbox and saves snapshots. Results that could not be persisted yet
/// stay queued and are retried (with backoff) before anything else; the snapshot is only taken when
/// that queue is empty.
pub struct DetectionWorker {
    engine: Option<Engine>,
    pending: VecDeque<EngineOutput>,
    last_snapshot: Instant,
    /// Alerts may be waiting in the outbox (at start, and after each persisted output).
    outbox_dirty: bool,
    store: Store,
    producer: EventProducer,
    alerts_topic: String,
    hub: AlertHub,
    metrics: AggregatorMetrics,
    snapshot_interval: Duration,
    work: mpsc::Receiver<Work>,
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

/// Every string of a scored post that goes to Postgres: `post_strings!(scored, post,)` borrows them,
/// `post_strings!(scored, post, mut)` borrows them mutably (one list for checking and cleaning).
macro_rules! post_strings {
    ($scored:ident, $post:ident, $($mutability:ident)?) => {
        [
            &$($mutability)? $scored.language,
            &$($mutability)? $post.id,
            &$($mutability)? $post.channel,
            &$($mutability)? $post.author_id,
            &$($mutability)? $post.parent_id,
            &$($mutability)? $post.root_id,
            &$($mutability)? $post.text,
            &$($mutability)? $post.permalink,
            &$($mutability)? $post.language_hint,
            &$($mutability)? $post.forwarded_from,
            &$($mutability)? $post.title,
        ]
    };
}

/// Whether a string of the post holds a NUL character, which Postgres text cannot hold.
pub fn needs_sanitizing(scored: &ScoredPost) -> bool {
    let model = scored.sentiment.as_ref().is_some_and(|sentiment| sentiment.model.contains('\0'));
    let Some(post) = scored.post.as_ref() else { return model || scored.language.contains('\0') };
    model
        || post_strings!(scored, post,).iter().any(|value| value.contains('\0'))
        || post.mentions.iter().chain(&post.hashtags).any(|value| value.contains('\0'))
}

/// Removes NUL characters, which Postgres text cannot hold, from every string of the post.
pub fn sanitize(scored: &mut ScoredPost) {
    fn clean(value: &mut String) {
        if value.contains('\0') {
            *value = value.replace('\0', "");
        }
    }
    if let Some(sentiment) = scored.sentiment.as_mut() {
        clean(&mut sentiment.model);
    }
    let Some(post) = scored.post.as_mut() else { return clean(&mut scored.language) };
    for value in post_strings!(scored, post, mut) {
        clean(value);
    }
    post.mentions.iter_mut().chain(post.hashtags.iter_mut()).for_each(clean);
}

fn transient(context: &str) -> impl Fn(sqlx::Error) -> TransientError + '_ {
    move |error| TransientError(anyhow::anyhow!("{context}: {error}"))
}

impl AggregatorHandler {
    /// A handler and the worker around a (restored) engine, publishing alerts through `alerts`.
    /// Spawn [`DetectionWorker::run`]; the handler waits for it when its queue is full.
    pub fn new(
        engine: Engine,
        store: Store,
        alerts: AlertSink,
        metrics: AggregatorMetrics,
        snapshot_interval: Duration,
        clock: PartitionClock,
    ) -> (AggregatorHandler, DetectionWorker) {
        let (sender, receiver) = mpsc::channel(WORK_QUEUE);
        let worker = DetectionWorker {
            engine: Some(engine),
            pending: VecDeque::new(),
            last_snapshot: Instant::now(),
            outbox_dirty: true,
            store: store.clone(),
            producer: alerts.producer,
            alerts_topic: alerts.topic,
            hub: alerts.hub,
            metrics: metrics.clone(),
            snapshot_interval,
            work: receiver,
        };
        let handler = AggregatorHandler { store, sequencer: Mutex::new((clock, sender)), metrics };
        (handler, worker)
    }

    /// Stores already-decoded scored posts with their partition and queues the new ones for the
    /// engine (the consumer's path without Kafka; the benchmark feeds it directly). Returns how
    /// many were new.
    pub async fn process<P: Borrow<ScoredPost> + Sync>(&self, batch: Vec<(i32, P)>) -> Result<usize, TransientError> {
        let mut times = Vec::with_capacity(batch.len());
        let mut posts = Vec::with_capacity(batch.len());
        for (partition, scored) in batch {
            if let Some(post) = scored.borrow().post.as_ref() {
                let created = post.created_at.as_ref().map(convert::timestamp_ms);
                let observed = post.observed_at.as_ref().map(convert::timestamp_ms);
                let observed = observed.or(created).unwrap_or_default();
                times.push((partition, convert::clamp_created(created.unwrap_or(observed), observed)));
            }
            posts.push(scored);
        }
        let started = Instant::now();
        let stored = self.store.store_batch(&posts).await.map_err(transient("storing the batch"))?;
        self.metrics.store_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.posts_stored.inc_by(stored.new_posts.len() as u64);
        self.metrics.posts_duplicate.inc_by(stored.duplicates as u64);
        let new = stored.new_posts.len();
        let mut sequencer = self.sequencer.lock().await;
        let (clock, queue) = &mut *sequencer;
        for (partition, time) in times {
            clock.observe(partition, time);
        }
        let work = if new > 0 || !stored.late_replies.is_empty() {
            Work::Ingest { stored, cap: clock.cap() }
        } else {
            Work::Tick { cap: clock.cap() }
        };
        queue.send(work).await.map_err(|_| worker_stopped())?;
        self.metrics.engine_queue.set(WORK_QUEUE.saturating_sub(queue.capacity()) as i64);
        Ok(new)
    }

    /// Lets the watermark move without new posts (a slow partition went idle): call periodically.
    /// Skipped while the worker is busy (the queued work moves the watermark anyway).
    pub async fn tick(&self) -> Result<(), TransientError> {
        let sequencer = self.sequencer.lock().await;
        let (clock, queue) = &*sequencer;
        match queue.try_send(Work::Tick { cap: clock.cap() }) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(worker_stopped()),
        }
    }

    /// Waits until everything queued so far is in the engine and persisted, and a snapshot saved.
    pub async fn checkpoint(&self) -> Result<(), TransientError> {
        self.send_checkpoint(false).await
    }

    /// Like [`AggregatorHandler::checkpoint`], then stops the worker (at shutdown).
    pub async fn finish(&self) -> Result<(), TransientError> {
        self.send_checkpoint(true).await
    }

    async fn send_checkpoint(&self, last: bool) -> Result<(), TransientError> {
        let (done, answer) = oneshot::channel();
        let sent = self.sequencer.lock().await.1.send(Work::Checkpoint { last, done }).await;
        sent.map_err(|_| worker_stopped())?;
        answer.await.map_err(|_| worker_stopped())?
    }
}

fn worker_stopped() -> TransientError {
    TransientError(anyhow::anyhow!("the detection worker has stopped"))
}

impl DetectionWorker {
    /// Runs until [`AggregatorHandler::finish`] (or until every handler is dropped). Fails only
    /// when the engine panicked; the service then stops and a restart rebuilds the engine from the
    /// snapshot and the stored posts.
    pub async fn run(mut self, stop: CancellationToken) -> anyhow::Result<()> {
        self.flush_with_retry(&stop).await;
        while let Some(work) = self.work.recv().await {
            self.metrics.engine_queue.set(self.work.len() as i64);
            match work {
                Work::Ingest { stored, cap } => {
                    self.feed(move |engine| {
                        let outputs = engine.ingest(&stored.new_posts, &stored.late_replies, cap);
                        if stored.max_seq > 0 {
                            engine.set_last_seq(stored.max_seq);
                        }
                        outputs
                    })
                    .await?;
                }
                Work::Tick { cap } => self.feed(move |engine| engine.advance_watermark(cap)).await?,
                Work::Checkpoint { last, done } => {
                    let result = match self.flush().await {
                        Ok(()) => self.snapshot().await,
                        Err(error) => Err(error),
                    };
                    // The caller may have given up waiting.
                    let _ = done.send(result);
                    if last {
                        return Ok(());
                    }
                    continue;
                }
            }
            self.flush_with_retry(&stop).await;
            if self.last_snapshot.elapsed() >= self.snapshot_interval {
                if let Err(error) = self.snapshot().await {
                    tracing::warn!(error = %error, "detector snapshot failed; retrying at the next batch");
                }
            }
        }
        Ok(())
    }

    /// Runs `step` on the engine off the async threads (a detection run is seconds of CPU on a big
    /// graph) and queues what it closed.
    async fn feed<F>(&mut self, step: F) -> anyhow::Result<()>
    where
        F: FnOnce(&mut Engine) -> Vec<EngineOutput> + Send + 'static,
    {
        let Some(mut engine) = self.engine.take() else { anyhow::bail!("the engine was lost in an earlier panic") };
        let started = Instant::now();
        let (engine, outputs) = tokio::task::spawn_blocking(move || {
            let outputs = step(&mut engine);
            (engine, outputs)
        })
        .await
        .map_err(|error| anyhow::anyhow!("the detection engine failed: {error}"))?;
        self.metrics.engine_seconds.observe(started.elapsed().as_secs_f64());
        let (actors, pairs) = engine.graph_size();
        self.metrics.graph_actors.set(actors as i64);
        self.metrics.graph_pairs.set(pairs as i64);
        self.metrics.window_overflow.set(engine.window_overflow() as i64);
        self.engine = Some(engine);
        self.pending.extend(outputs);
        Ok(())
    }

    /// Persists and publishes, retrying with capped backoff while the database or broker is down.
    /// Gives up only at shutdown (what is lost is rebuilt from the snapshot and the stored posts).
    async fn flush_with_retry(&mut self, stop: &CancellationToken) {
        let mut attempt = 0_u32;
        while let Err(error) = self.flush().await {
            attempt += 1;
            tracing::warn!(error = %error, attempt, "persisting detection results failed; retrying");
            let delay = Duration::from_millis(100u64 << attempt.min(8)).min(Duration::from_secs(30));
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Persists queued results, then produces the alert outbox.
    async fn flush(&mut self) -> Result<(), TransientError> {
        while let Some(output) = self.pending.front() {
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
            self.pending.pop_front();
            self.outbox_dirty = true;
        }
        if self.outbox_dirty {
            publish_outbox(&self.store, &self.producer, &self.alerts_topic, &self.hub, &self.metrics).await?;
            self.outbox_dirty = false;
        }
        Ok(())
    }

    async fn snapshot(&mut self) -> Result<(), TransientError> {
        let Some(engine) = self.engine.as_ref() else { return Ok(()) };
        if !self.pending.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let bytes = engine.snapshot().map_err(TransientError)?;
        self.store
            .save_snapshot(SNAPSHOT_NAME, engine.last_seq(), &bytes)
            .await
            .map_err(transient("saving the detector snapshot"))?;
        self.last_snapshot = Instant::now();
        self.metrics.snapshot_bytes.set(bytes.len() as i64);
        tracing::debug!(bytes = bytes.len(), seconds = started.elapsed().as_secs_f64(), "detector snapshot saved");
        Ok(())
    }
}

/// Produces stored, unpublished alerts (key = subject), marks them, and hands them to the streams.
async fn publish_outbox(
    store: &Store,
    producer: &EventProducer,
    topic: &str,
    hub: &AlertHub,
    metrics: &AggregatorMetrics,
) -> Result<(), TransientError> {
    loop {
        let alerts = store.unpublished_alerts(OUTBOX_BATCH).await.map_err(transient("reading the outbox"))?;
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
        producer
            .send_all::<Alert>(topic, messages)
            .await
            .map_err(|error| TransientError(anyhow::anyhow!("producing alerts: {error}")))?;
        let seqs: Vec<i64> = alerts.iter().map(|(seq, _)| *seq).collect();
        store.mark_published(&seqs).await.map_err(transient("marking alerts published"))?;
        for (seq, alert) in alerts {
            metrics.count_alert(alert.kind);
            // No subscriber is fine.
            let _ = hub.send((seq, alert));
        }
    }
}

impl BatchHandler for AggregatorHandler {
    type Event = ScoredPost;

    async fn handle(&self, batch: &[Envelope<ScoredPost>]) -> Result<BatchOutcome, TransientError> {
        let mut rejected = Vec::new();
        let mut posts = Vec::with_capacity(batch.len());
        for (index, envelope) in batch.iter().enumerate() {
            match validate(&envelope.event) {
                // Copied only when it must be cleaned.
                Ok(()) if needs_sanitizing(&envelope.event) => {
                    let mut post = envelope.event.clone();
                    sanitize(&mut post);
                    posts.push((envelope.partition, Cow::Owned(post)));
                }
                Ok(()) => posts.push((envelope.partition, Cow::Borrowed(&envelope.event))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use murmur_proto::events::v1::{Post, SentimentScore};

    fn scored() -> ScoredPost {
        ScoredPost {
            post: Some(Post {
                id: "reddit:t1_a".to_string(),
                channel: "r/velo".to_string(),
                author_id: "author".to_string(),
                text: "a clean text".to_string(),
                mentions: vec!["m1".to_string()],
                hashtags: vec!["velo".to_string()],
                ..Post::default()
            }),
            language: "en".to_string(),
            sentiment: Some(SentimentScore { model: "vader".to_string(), ..SentimentScore::default() }),
            ..ScoredPost::default()
        }
    }

    #[test]
    fn a_clean_post_is_left_as_it_is() {
        let clean = scored();
        assert!(!needs_sanitizing(&clean));
        let mut copy = clean.clone();
        sanitize(&mut copy);
        assert_eq!(copy, clean);
    }

    #[test]
    fn a_nul_anywhere_is_found_and_removed() {
        type Edit = fn(&mut ScoredPost);
        let edits: [(&str, Edit); 6] = [
            ("language", |scored| scored.language.push('\0')),
            ("model", |scored| scored.sentiment.as_mut().unwrap().model.insert(0, '\0')),
            ("text", |scored| scored.post.as_mut().unwrap().text.insert(2, '\0')),
            ("title", |scored| scored.post.as_mut().unwrap().title.push('\0')),
            ("mention", |scored| scored.post.as_mut().unwrap().mentions[0].push('\0')),
            ("hashtag", |scored| scored.post.as_mut().unwrap().hashtags.push("\0x".to_string())),
        ];
        for (field, edit) in edits {
            let mut dirty = scored();
            edit(&mut dirty);
            assert!(needs_sanitizing(&dirty), "{field}");
            sanitize(&mut dirty);
            assert!(!needs_sanitizing(&dirty), "{field} cleaned");
        }
        let mut text = scored();
        text.post.as_mut().unwrap().text = "a\0b\0".to_string();
        sanitize(&mut text);
        assert_eq!(text.post.unwrap().text, "ab");
        let mut bare = ScoredPost { language: "e\0n".to_string(), ..ScoredPost::default() };
        assert!(needs_sanitizing(&bare));
        sanitize(&mut bare);
        assert_eq!(bare.language, "en");
    }
}
