//! `SentimentService`: on-demand scoring for batches of texts, size-capped.
//!
//! `model` empty scores like the stream (lexicon, then the transformer where the routing policy
//! says, in `transformer` builds with a model loaded); naming the lexicon or the transformer
//! model forces it. Embeddings need the transformer.

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
    #[cfg(feature = "transformer")]
    transformer: Option<Arc<crate::transformer::TransformerScorer>>,
}

impl SentimentApi {
    /// A service scoring with `scorer` under `limits`.
    pub fn new(scorer: Arc<Scorer>, limits: ScoreLimits, metrics: ScorerMetrics) -> Self {
        Self {
            scorer,
            limits,
            metrics,
            #[cfg(feature = "transformer")]
            transformer: None,
        }
    }

    /// Also serves `transformer` (by policy, by name, and for embeddings).
    #[cfg(feature = "transformer")]
    pub fn with_transformer(mut self, transformer: Arc<crate::transformer::TransformerScorer>) -> Self {
        self.transformer = Some(transformer);
        self
    }

    /// Checks the requested model and embedding against what this build and config serve.
    fn check_model(&self, model: &str, include_embedding: bool) -> Result<(), Status> {
        #[cfg(feature = "transformer")]
        if let Some(transformer) = &self.transformer {
            let known = model.is_empty() || model == LEXICON_MODEL || transformer.sentiment_model() == Some(model);
            if !known {
                return Err(Status::invalid_argument(format!(
                    "unknown model `{model}`; ListModels shows the available ones"
                )));
            }
            return Ok(());
        }
        if !model.is_empty() && model != LEXICON_MODEL {
            return Err(Status::invalid_argument(format!(
                "unknown model `{model}`; ListModels shows the available ones"
            )));
        }
        if include_embedding {
            return Err(Status::invalid_argument(
                "embeddings need a transformer model, which this service does not serve",
            ));
        }
        Ok(())
    }

    /// Rescores with the transformer where the request or the policy asks for it.
    #[cfg(feature = "transformer")]
    async fn refine(&self, request: &ScoreRequest, results: &mut [ScoreResult]) {
        use crate::transformer::{RefineRequest, SentimentRoute};
        let Some(transformer) = &self.transformer else {
            return;
        };
        let route = if request.model.is_empty() {
            SentimentRoute::ByPolicy
        } else if request.model == LEXICON_MODEL {
            SentimentRoute::Lexicon
        } else {
            SentimentRoute::Transformer
        };
        let default_score = murmur_proto::events::v1::SentimentScore::default();
        let requests: Vec<RefineRequest<'_>> = request
            .inputs
            .iter()
            .zip(results.iter())
            .map(|(input, result)| RefineRequest {
                text: &input.text,
                language: &result.language,
                lexicon: result.sentiment.as_ref().unwrap_or(&default_score),
                include_embedding: request.include_embedding,
            })
            .collect();
        let refined = transformer.refine(&requests, route).await;
        for (result, outcome) in results.iter_mut().zip(refined) {
            match outcome {
                Ok(refined) => {
                    if let Some(sentiment) = refined.sentiment {
                        result.sentiment = Some(sentiment);
                    }
                    result.embedding = refined.embedding;
                }
                Err(error) => {
                    self.metrics.transformer_failures.inc();
                    tracing::warn!(error = %error, "transformer failed, keeping the lexicon score");
                }
            }
        }
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
        self.check_model(&request.model, request.include_embedding)?;
        let started = Instant::now();
        #[cfg_attr(not(feature = "transformer"), allow(unused_mut))]
        let mut results = request
            .inputs
            .iter()
            .map(|input| {
                let scored = self.scorer.score_text(&input.text, &input.language_hint);
                ScoreResult {
                    language: scored.language.to_string(),
                    sentiment: Some(scored.sentiment),
                    embedding: Vec::new(),
                }
            })
            .collect::<Vec<_>>();
        #[cfg(feature = "transformer")]
        self.refine(&request, &mut results).await;
        for result in &results {
            let model = result.sentiment.as_ref().map_or(LEXICON_MODEL, |sentiment| sentiment.model.as_str());
            self.metrics.count(&result.language, model, "api");
        }
        self.metrics.batch_texts.observe(results.len() as f64);
        self.metrics.scoring_seconds.observe(started.elapsed().as_secs_f64());
        Ok(Response::new(ScoreResponse { results }))
    }

    async fn list_models(&self, _request: Request<ListModelsRequest>) -> Result<Response<ListModelsResponse>, Status> {
        #[cfg_attr(not(feature = "transformer"), allow(unused_mut))]
        let mut models = vec![ModelInfo {
            name: LEXICON_MODEL.to_string(),
            kind: "lexicon".to_string(),
            languages: vec!["en".to_string(), "fr".to_string()],
            loaded: true,
            is_default: true,
            description: "VADER (Hutto & Gilbert 2014): English lexicon at parity with vaderSentiment 3.3.2, \
                          French lexicon and rules"
                .to_string(),
        }];
        #[cfg(feature = "transformer")]
        if let Some(transformer) = &self.transformer {
            models.extend(transformer_models(transformer));
        }
        Ok(Response::new(ListModelsResponse { models }))
    }
}

/// The transformer's entries in `ListModels`: its sentiment model (when one is loaded) and the
/// sentence encoder.
#[cfg(feature = "transformer")]
fn transformer_models(transformer: &crate::transformer::TransformerScorer) -> Vec<ModelInfo> {
    use crate::transformer::TransformerPolicy;
    let routing = transformer.routing();
    let mut models = Vec::new();
    if let Some(name) = transformer.sentiment_model() {
        let when = match routing.policy {
            TransformerPolicy::All => "every text".to_string(),
            TransformerPolicy::Ambiguous => format!(
                "texts whose lexicon |compound| < {} or confidence < {}",
                routing.ambiguous_below_compound, routing.ambiguous_below_confidence
            ),
            TransformerPolicy::Off => "only texts that request it by name".to_string(),
        };
        models.push(ModelInfo {
            name: name.to_string(),
            kind: "transformer".to_string(),
            languages: vec!["en".to_string(), "fr".to_string()],
            loaded: true,
            is_default: false,
            description: format!(
                "transformer sentiment over {} embeddings (rust-bert, CPU); scores {when} when no model is named",
                transformer.encoder_name()
            ),
        });
    }
    models.push(ModelInfo {
        name: transformer.encoder_name().to_string(),
        kind: "embedding".to_string(),
        languages: vec!["en".to_string()],
        loaded: true,
        is_default: false,
        description: format!(
            "sentence embeddings ({} dimensions, normalised): ask with include_embedding",
            transformer.embedding_dimension()
        ),
    });
    models
}
