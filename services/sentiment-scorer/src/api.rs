//! `SentimentService`: on-demand scoring for batches of texts, size-capped.

use std::sync::Arc;
use std::time::Instant;

use murmur_proto::api::v1::sentiment_service_server::SentimentService;
use murmur_proto::api::v1::{
    ListModelsRequest, ListModelsResponse, ModelInfo, ScoreRequest, ScoreResponse, ScoreResult,
};
use tonic::{Request, Response, Status};

use crate::metrics::ScorerMetrics;
use crate::scoring::{Scorer, LEXICON_MODEL};

/// Limits of one `Score` call.
#[derive(Debug, Clone, Copy)]
pub struct ScoreLimits {
    /// Maximum texts per request.
    pub max_inputs: usize,
    /// Maximum bytes of one text.
    pub max_text_bytes: usize,
}

/// The gRPC service.
pub struct SentimentApi {
    scorer: Arc<Scorer>,
    limits: ScoreLimits,
    metrics: ScorerMetrics,
}

impl SentimentApi {
    /// A service scoring with `scorer` under `limits`.
    pub fn new(scorer: Arc<Scorer>, limits: ScoreLimits, metrics: ScorerMetrics) -> Self {
        Self { scorer, limits, metrics }
    }
}

#[tonic::async_trait]
impl SentimentService for SentimentApi {
    async fn score(&self, request: Request<ScoreRequest>) -> Result<Response<ScoreResponse>, Status> {
        let request = request.into_inner();
        if request.inputs.is_empty() {
            return Err(Status::invalid_argument("inputs must hold at least one text"));
        }
        if request.inputs.len() > self.limits.max_inputs {
            return Err(Status::invalid_argument(format!(
                "{} inputs exceed the limit of {} per request; split the batch",
                request.inputs.len(),
                self.limits.max_inputs
            )));
        }
        if let Some((index, input)) =
            request.inputs.iter().enumerate().find(|(_, input)| input.text.len() > self.limits.max_text_bytes)
        {
            return Err(Status::invalid_argument(format!(
                "inputs[{index}] is {} bytes, over the limit of {} bytes per text",
                input.text.len(),
                self.limits.max_text_bytes
            )));
        }
        if !request.model.is_empty() && request.model != LEXICON_MODEL {
            return Err(Status::invalid_argument(format!(
                "unknown model `{}`; ListModels shows the available ones",
                request.model
            )));
        }
        if request.include_embedding {
            return Err(Status::invalid_argument(
                "embeddings need a transformer model, which this build does not serve",
            ));
        }
        let started = Instant::now();
        let results = request
            .inputs
            .iter()
            .map(|input| {
                let scored = self.scorer.score_text(&input.text, &input.language_hint);
                self.metrics.count(scored.language, LEXICON_MODEL, "api");
                ScoreResult {
                    language: scored.language.to_string(),
                    sentiment: Some(scored.sentiment),
                    embedding: Vec::new(),
                }
            })
            .collect::<Vec<_>>();
        self.metrics.batch_texts.observe(results.len() as f64);
        self.metrics.scoring_seconds.observe(started.elapsed().as_secs_f64());
        Ok(Response::new(ScoreResponse { results }))
    }

    async fn list_models(&self, _request: Request<ListModelsRequest>) -> Result<Response<ListModelsResponse>, Status> {
        Ok(Response::new(ListModelsResponse {
            models: vec![ModelInfo {
                name: LEXICON_MODEL.to_string(),
                kind: "lexicon".to_string(),
                languages: vec!["en".to_string(), "fr".to_string()],
                loaded: true,
                is_default: true,
                description: "VADER (Hutto & Gilbert 2014): English lexicon at parity with vaderSentiment 3.3.2, \
                              French lexicon and rules"
                    .to_string(),
            }],
        }))
    }
}
