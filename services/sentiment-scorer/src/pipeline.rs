//! The stream stage: raw posts in, scored posts out. A batch is durable once every scored post
//! is acknowledged by the broker; only then does the consumer store the batch's offsets.
//!
//! Every post is scored by the lexicon; in `transformer` builds with a model loaded, the posts the
//! routing policy picks are then rescored by the transformer (batched together), and embeddings
//! are attached when `MURMUR_PUBLISH_EMBEDDINGS` is on. A transformer failure keeps the lexicon's
//! score: it never blocks the partition.

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
    #[cfg(feature = "transformer")]
    transformer: Option<Arc<crate::transformer::TransformerScorer>>,
}

impl ScoringHandler {
    /// A handler producing to `output_topic`.
    pub fn new(scorer: Arc<Scorer>, producer: EventProducer, output_topic: String, metrics: ScorerMetrics) -> Self {
        Self {
            scorer,
            producer,
            output_topic,
            metrics,
            #[cfg(feature = "transformer")]
            transformer: None,
        }
    }

    /// Rescores the posts the routing policy picks with `transformer`.
    #[cfg(feature = "transformer")]
    pub fn with_transformer(mut self, transformer: Arc<crate::transformer::TransformerScorer>) -> Self {
        self.transformer = Some(transformer);
        self
    }

    #[cfg(feature = "transformer")]
    async fn refine(&self, scored_posts: &mut [ScoredPost]) {
        use crate::transformer::{RefineRequest, SentimentRoute};
        let Some(transformer) = &self.transformer else {
            return;
        };
        let default_score = murmur_proto::events::v1::SentimentScore::default();
        let texts: Vec<String> = scored_posts
            .iter()
            .map(|scored| {
                let post = scored.post.as_ref();
                match post.map(|post| (post.title.as_str(), post.text.as_str())) {
                    Some(("", text)) => text.to_string(),
                    Some((title, text)) => format!("{title}\n{text}"),
                    None => String::new(),
                }
            })
            .collect();
        let requests: Vec<RefineRequest<'_>> = scored_posts
            .iter()
            .zip(&texts)
            .map(|(scored, text)| RefineRequest {
                text,
                language: &scored.language,
                lexicon: scored.sentiment.as_ref().unwrap_or(&default_score),
                include_embedding: transformer.publish_embeddings(),
            })
            .collect();
        let refined = transformer.refine(&requests, SentimentRoute::ByPolicy).await;
        for (scored, outcome) in scored_posts.iter_mut().zip(refined) {
            match outcome {
                Ok(refined) => {
                    if let Some(sentiment) = refined.sentiment {
                        scored.sentiment = Some(sentiment);
                    }
                    scored.embedding = refined.embedding;
                }
                Err(error) => {
                    self.metrics.transformer_failures.inc();
                    let post_id = scored.post.as_ref().map(|post| post.id.as_str()).unwrap_or_default();
                    tracing::warn!(error = %error, post_id, "transformer failed, keeping the lexicon score");
                }
            }
        }
    }
}

impl BatchHandler for ScoringHandler {
    type Event = Post;

    async fn handle(&self, batch: &[Envelope<Post>]) -> Result<BatchOutcome, TransientError> {
        let started = Instant::now();
        let mut outcome = BatchOutcome::default();
        let mut accepted = Vec::with_capacity(batch.len());
        let mut scored_posts: Vec<ScoredPost> = Vec::with_capacity(batch.len());
        for (index, envelope) in batch.iter().enumerate() {
            if envelope.event.id.trim().is_empty() {
                outcome.rejected.push(Rejection { index, reason: "post has no id".into() });
                continue;
            }
            accepted.push(envelope);
            scored_posts.push(self.scorer.score_post(envelope.event.clone()));
        }
        #[cfg(feature = "transformer")]
        self.refine(&mut scored_posts).await;
        let mut messages = Vec::with_capacity(scored_posts.len());
        for (envelope, scored) in accepted.into_iter().zip(scored_posts) {
            let model = scored.sentiment.as_ref().map_or(LEXICON_MODEL, |sentiment| sentiment.model.as_str());
            self.metrics.count(&scored.language, model, "stream");
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
