//! [`TransformerScorer`]: the component the stream stage and the gRPC API call after the lexicon.
//! It routes each text by the [`RoutingPolicy`], sends the chosen ones through the [`Batcher`] to
//! the models (sentence encoder + softmax head, or a fine-tuned classifier) and hands back the
//! transformer's sentiment and, when asked, the embedding.

use murmur_proto::events::v1::SentimentScore;

use super::batcher::{BatchModel, BatchObserver, Batcher};
use super::classifier::SequenceClassifier;
use super::encoder::SentenceEncoder;
use super::head::{sentiment_from_probabilities, LexiconFeatures, SoftmaxHead};
use super::policy::{RoutingPolicy, TransformerPolicy};
use super::{TransformerError, TransformerSettings};

/// Bytes of a text the transformer reads. MiniLM truncates at 256 word pieces (about 1–1.5 KB of
/// text); cutting before tokenisation keeps a 1 MB post from costing a megabyte of tokenising.
pub const TRANSFORMER_TEXT_BYTES: usize = 4 * 1024;

/// One text for the models.
#[derive(Debug, Clone)]
pub struct TransformerJob {
    pub text: String,
    pub lexicon: LexiconFeatures,
    /// Score the sentiment.
    pub want_sentiment: bool,
    /// Return the embedding.
    pub want_embedding: bool,
}

/// What the models said about one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformerOutput {
    pub sentiment: Option<SentimentScore>,
    pub embedding: Option<Vec<f32>>,
}

/// The loaded models, run batch by batch on a blocking thread.
pub struct TransformerModels {
    encoder: SentenceEncoder,
    head: Option<SoftmaxHead>,
    classifier: Option<SequenceClassifier>,
}

impl TransformerModels {
    /// Loads what `settings` names (blocking: call it off the async runtime). The encoder is
    /// required; the sentiment comes from the classifier when one is configured, else the head.
    pub fn load(settings: &TransformerSettings) -> Result<Self, TransformerError> {
        if settings.threads > 0 {
            tch::set_num_threads(i32::try_from(settings.threads).unwrap_or(i32::MAX));
        }
        let encoder = SentenceEncoder::load(&settings.model_dir)?;
        let head = settings.head.as_deref().map(SoftmaxHead::load).transpose()?;
        if let Some(head) = &head {
            if head.embedding_dim != encoder.dimension() {
                return Err(TransformerError::Head(format!(
                    "the head reads {}-dimensional embeddings of `{}`, the encoder `{}` gives {}",
                    head.embedding_dim,
                    head.encoder,
                    encoder.name(),
                    encoder.dimension()
                )));
            }
        }
        let classifier = settings.classifier_dir.as_deref().map(SequenceClassifier::load).transpose()?;
        Ok(Self { encoder, head, classifier })
    }

    /// From already loaded parts.
    pub fn new(encoder: SentenceEncoder, head: Option<SoftmaxHead>, classifier: Option<SequenceClassifier>) -> Self {
        Self { encoder, head, classifier }
    }

    /// Name of the model that produces the transformer's sentiment, if any.
    pub fn sentiment_model_name(&self) -> Option<String> {
        match (&self.classifier, &self.head) {
            (Some(classifier), _) => Some(classifier.name().to_string()),
            (None, Some(head)) => Some(head.name.clone()),
            (None, None) => None,
        }
    }

    /// The sentence encoder.
    pub fn encoder(&self) -> &SentenceEncoder {
        &self.encoder
    }

    fn sentiments_from_classifier(
        classifier: &SequenceClassifier,
        texts: &[&str],
    ) -> Result<Vec<SentimentScore>, TransformerError> {
        let predictions = classifier.predict(texts)?;
        Ok(predictions
            .into_iter()
            .map(|prediction| {
                // The pipeline gives the winning probability only; the rest is spread evenly.
                let rest = (1.0 - prediction.probability).max(0.0) / 2.0;
                let mut probabilities = [rest; 3];
                probabilities[prediction.label.index()] = prediction.probability;
                sentiment_from_probabilities(&probabilities, classifier.name())
            })
            .collect())
    }
}

impl BatchModel for TransformerModels {
    type Input = TransformerJob;
    type Output = TransformerOutput;

    fn run_batch(&mut self, jobs: &[TransformerJob]) -> Result<Vec<TransformerOutput>, TransformerError> {
        let sentiment_from_head = self.classifier.is_none() && self.head.is_some();
        let needs_embedding = |job: &TransformerJob| job.want_embedding || (job.want_sentiment && sentiment_from_head);
        let encode_indices: Vec<usize> = (0..jobs.len()).filter(|&index| needs_embedding(&jobs[index])).collect();
        let encode_texts: Vec<&str> = encode_indices.iter().map(|&index| jobs[index].text.as_str()).collect();
        let mut embeddings: Vec<Option<Vec<f32>>> = vec![None; jobs.len()];
        for (index, embedding) in encode_indices.into_iter().zip(self.encoder.encode(&encode_texts)?) {
            embeddings[index] = Some(embedding);
        }

        let mut sentiments: Vec<Option<SentimentScore>> = vec![None; jobs.len()];
        if let Some(classifier) = &self.classifier {
            let classify_indices: Vec<usize> = (0..jobs.len()).filter(|&index| jobs[index].want_sentiment).collect();
            let classify_texts: Vec<&str> = classify_indices.iter().map(|&index| jobs[index].text.as_str()).collect();
            let scores = Self::sentiments_from_classifier(classifier, &classify_texts)?;
            for (index, score) in classify_indices.into_iter().zip(scores) {
                sentiments[index] = Some(score);
            }
        } else if let Some(head) = &self.head {
            for (index, job) in jobs.iter().enumerate() {
                if let (true, Some(embedding)) = (job.want_sentiment, &embeddings[index]) {
                    let probabilities = head.classify(embedding, &job.lexicon);
                    sentiments[index] = Some(sentiment_from_probabilities(&probabilities, &head.name));
                }
            }
        }

        Ok(jobs
            .iter()
            .zip(embeddings.into_iter().zip(sentiments))
            .map(|(job, (embedding, sentiment))| TransformerOutput {
                sentiment,
                embedding: embedding.filter(|_| job.want_embedding),
            })
            .collect())
    }
}

/// How a caller wants one text's sentiment decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentimentRoute {
    /// By the configured policy.
    ByPolicy,
    /// Always the transformer (a request that names the transformer model).
    Transformer,
    /// Keep the lexicon's (a request that names the lexicon model); embeddings still come
    /// from the encoder when asked for.
    Lexicon,
}

/// One text to refine after the lexicon scored it.
#[derive(Debug, Clone, Copy)]
pub struct RefineRequest<'a> {
    pub text: &'a str,
    /// Language code the lexicon decided (`en`, `fr`, `und`).
    pub language: &'a str,
    pub lexicon: &'a SentimentScore,
    pub include_embedding: bool,
}

/// The transformer's contribution for one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refined {
    /// The transformer's sentiment, when it scored the text (else keep the lexicon's).
    pub sentiment: Option<SentimentScore>,
    /// The embedding, when asked for.
    pub embedding: Vec<f32>,
}

/// The transformer component shared by the pipeline and the API.
pub struct TransformerScorer {
    batcher: Batcher<TransformerJob, TransformerOutput>,
    routing: RoutingPolicy,
    publish_embeddings: bool,
    sentiment_model: Option<String>,
    encoder_name: String,
    embedding_dimension: usize,
}

impl TransformerScorer {
    /// Loads the models on a blocking thread and starts the batcher (call within a tokio
    /// runtime). `observer` sees every batch's size and duration (metrics).
    pub async fn load(
        settings: TransformerSettings,
        observer: Option<BatchObserver>,
    ) -> Result<Self, TransformerError> {
        let load_settings = settings.clone();
        let models = tokio::task::spawn_blocking(move || TransformerModels::load(&load_settings))
            .await
            .map_err(|error| TransformerError::Load(format!("loading panicked: {error}")))??;
        Ok(Self::start(models, &settings, observer))
    }

    /// Starts the batcher over already loaded models.
    pub fn start(models: TransformerModels, settings: &TransformerSettings, observer: Option<BatchObserver>) -> Self {
        let sentiment_model = models.sentiment_model_name();
        let encoder_name = models.encoder().name().to_string();
        let embedding_dimension = models.encoder().dimension();
        let mut routing = settings.routing;
        if sentiment_model.is_none() && routing.policy != TransformerPolicy::Off {
            tracing::warn!(
                policy = routing.policy.as_str(),
                "no transformer sentiment model (head or classifier) is configured; the transformer only computes embeddings"
            );
            routing.policy = TransformerPolicy::Off;
        }
        let batcher = Batcher::start(models, settings.batcher, observer);
        Self {
            batcher,
            routing,
            publish_embeddings: settings.publish_embeddings,
            sentiment_model,
            encoder_name,
            embedding_dimension,
        }
    }

    /// Name written into `SentimentScore.model` when the transformer scored a post.
    pub fn sentiment_model(&self) -> Option<&str> {
        self.sentiment_model.as_deref()
    }

    /// The sentence encoder's name.
    pub fn encoder_name(&self) -> &str {
        &self.encoder_name
    }

    /// Embedding dimension.
    pub fn embedding_dimension(&self) -> usize {
        self.embedding_dimension
    }

    /// The routing policy in force.
    pub fn routing(&self) -> RoutingPolicy {
        self.routing
    }

    /// Whether scored posts carry their embedding (`MURMUR_PUBLISH_EMBEDDINGS`).
    pub fn publish_embeddings(&self) -> bool {
        self.publish_embeddings
    }

    /// Refines a batch of lexicon-scored texts; one result per request, in order. Texts neither
    /// routed to the transformer nor asking for an embedding cost nothing.
    pub async fn refine(
        &self,
        requests: &[RefineRequest<'_>],
        route: SentimentRoute,
    ) -> Vec<Result<Refined, TransformerError>> {
        let mut job_indices = Vec::new();
        let mut jobs = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            let want_sentiment = self.sentiment_model.is_some()
                && match route {
                    SentimentRoute::ByPolicy => self.routing.routes(request.lexicon),
                    SentimentRoute::Transformer => true,
                    SentimentRoute::Lexicon => false,
                };
            if !want_sentiment && !request.include_embedding {
                continue;
            }
            job_indices.push(index);
            jobs.push(TransformerJob {
                text: truncate(request.text, TRANSFORMER_TEXT_BYTES).to_string(),
                lexicon: LexiconFeatures::from_score(request.lexicon, request.language),
                want_sentiment,
                want_embedding: request.include_embedding,
            });
        }
        let mut results: Vec<Result<Refined, TransformerError>> =
            requests.iter().map(|_| Ok(Refined::default())).collect();
        for (index, output) in job_indices.into_iter().zip(self.batcher.submit_all(jobs).await) {
            results[index] = output
                .map(|output| Refined { sentiment: output.sentiment, embedding: output.embedding.unwrap_or_default() });
        }
        results
    }

    /// Scores one text with the encoder only (its embedding).
    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, TransformerError> {
        let job = TransformerJob {
            text: truncate(text, TRANSFORMER_TEXT_BYTES).to_string(),
            lexicon: LexiconFeatures::default(),
            want_sentiment: false,
            want_embedding: true,
        };
        let output = self.batcher.submit(job).await?;
        output.embedding.ok_or_else(|| TransformerError::Model("no embedding returned".to_string()))
    }
}

fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
