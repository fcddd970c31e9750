//! The stream stage: raw posts in, scored posts out. A batch is durable once every scored post
//! is acknowledged by the broker; only then does the consumer store the batch's offsets.

use std::sync::Arc;
use std::time::Instant;

use murmur_common::kafka::consumer::{BatchHandler, BatchOutcome, Envelope, Rejection, TransientError};
use murmur_common::kafka::producer::{EventProducer, OutgoingMessage};
use murmur_proto::events::v1::{Post, ScoredPost};
use murmur_proto::partition_key;
use prost::Message;

use crate::metrics::ScorerMetrics;
use crate::scoring::{Scorer, LEXICON_MODEL};

/// Scores each batch and produces the results to the scored topic.
pub struct ScoringHandler {
    scorer: Arc<Scorer>,
    producer: EventProducer,
    output_topic: String,
    metrics: ScorerMetrics,
}

impl ScoringHandler {
    /// A handler producing to `output_topic`.
    pub fn new(scorer: Arc<Scorer>, producer: EventProducer, output_topic: String, metrics: ScorerMetrics) -> Self {
        Self { scorer, producer, output_topic, metrics }
    }
}

impl BatchHandler for ScoringHandler {
    type Event = Post;

    async fn handle(&self, batch: &[Envelope<Post>]) -> Result<BatchOutcome, TransientError> {
        let started = Instant::now();
        let mut outcome = BatchOutcome::default();
        let mut messages = Vec::with_capacity(batch.len());
        for (index, envelope) in batch.iter().enumerate() {
            if envelope.event.id.trim().is_empty() {
                outcome.rejected.push(Rejection { index, reason: "post has no id".into() });
                continue;
            }
            let scored: ScoredPost = self.scorer.score_post(envelope.event.clone());
            self.metrics.count(&scored.language, LEXICON_MODEL, "stream");
            let key = envelope.key.clone().unwrap_or_else(|| partition_key(&envelope.event));
            messages.push(OutgoingMessage {
                key,
                payload: scored.encode_to_vec(),
                // Continue the ingestor's trace rather than starting a new one.
                headers: envelope.trace_headers.clone(),
            });
        }
        self.metrics.batch_texts.observe(messages.len() as f64);
        self.producer
            .send_all::<ScoredPost>(&self.output_topic, messages)
            .await
            .map_err(|error| TransientError(error.into()))?;
        self.metrics.scoring_seconds.observe(started.elapsed().as_secs_f64());
        Ok(outcome)
    }
}
