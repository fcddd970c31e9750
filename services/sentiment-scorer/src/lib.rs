//! The sentiment-scorer service: consumes `murmur.posts.raw.v1`, identifies each post's
//! language, scores its sentiment and publishes `murmur.posts.scored.v1`; serves
//! `SentimentService` for on-demand scoring.
//!
//! `main.rs` only parses the config and calls [`Application::build`] then
//! [`Application::run_until_stopped`]; tests start the same application in-process on port 0.

pub mod api;
pub mod config;
pub mod eval;
pub mod metrics;
pub mod pipeline;
pub mod scoring;
#[cfg(feature = "transformer")]
pub mod transformer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use murmur_common::kafka::admin::check_brokers;
use murmur_common::kafka::client_config;
use murmur_common::kafka::consumer::{BatchConsumer, ConsumerSettings};
use murmur_common::kafka::producer::EventProducer;
use murmur_common::metrics::KafkaMetrics;
use murmur_common::runtime::{start_service, Supervisor};
use murmur_common::Shutdown;
use murmur_proto::api::v1::sentiment_service_server::SentimentServiceServer;
use prometheus_client::registry::Registry;

use crate::api::{ScoreLimits, SentimentApi};
use crate::metrics::ScorerMetrics;
use crate::pipeline::ScoringHandler;
use crate::scoring::Scorer;

pub use config::Config;

/// Name used in logs, traces and metrics.
pub const SERVICE_NAME: &str = "sentiment-scorer";
/// Default gRPC port.
pub const DEFAULT_GRPC_PORT: u16 = 50052;
/// Default admin HTTP port.
pub const DEFAULT_ADMIN_PORT: u16 = 9102;

/// A built, not yet running, scorer.
pub struct Application {
    supervisor: Supervisor,
    grpc_addr: SocketAddr,
}

impl Application {
    /// Checks the broker, binds the listeners and prepares the tasks.
    pub async fn build(config: Config, shutdown: Shutdown) -> anyhow::Result<Self> {
        let mut registry = Registry::default();
        let kafka_metrics = KafkaMetrics::register(&mut registry);
        let scorer_metrics = ScorerMetrics::register(&mut registry);
        check_brokers(&client_config(&config.kafka), Duration::from_secs(10)).await?;

        let scorer = Arc::new(Scorer::new(config.max_text_bytes));
        #[cfg(feature = "transformer")]
        let transformer = load_transformer(&config, &scorer_metrics).await?;
        let producer = EventProducer::new(&config.kafka, Some(kafka_metrics.clone()))?;
        let mut settings = ConsumerSettings::from_args(&config.input_topic, SERVICE_NAME, &config.consumer);
        settings.deadletter_topic = config.deadletter_topic.clone();
        let consumer: BatchConsumer<ScoringHandler> =
            BatchConsumer::new(&config.kafka, settings, producer.clone(), Some(kafka_metrics))?;
        let handler = ScoringHandler::new(
            Arc::clone(&scorer),
            producer.clone(),
            config.output_topic.clone(),
            scorer_metrics.clone(),
        );
        let limits = ScoreLimits { max_inputs: config.max_score_inputs, max_text_bytes: config.max_text_bytes };
        let api = SentimentApi::new(scorer, limits, scorer_metrics);
        #[cfg(feature = "transformer")]
        let (handler, api) = match transformer {
            Some(transformer) => {
                (handler.with_transformer(Arc::clone(&transformer)), api.with_transformer(transformer))
            }
            None => (handler, api),
        };

        let ports = (DEFAULT_GRPC_PORT, DEFAULT_ADMIN_PORT);
        let (mut supervisor, grpc_addr) = start_service(
            &config.server,
            ports,
            &["murmur.api.v1.SentimentService"],
            registry,
            &shutdown,
            |router, auth| router.add_service(SentimentServiceServer::with_interceptor(api, auth)),
        )
        .await?;
        let stop = shutdown.token();
        supervisor.spawn("consumer", async move {
            consumer.run(&handler, stop).await?;
            producer.flush(Duration::from_secs(5));
            Ok(())
        });
        Ok(Self { supervisor, grpc_addr })
    }

    /// Where the gRPC server listens.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where the admin endpoint listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.supervisor.admin_addr()
    }

    /// Runs until shutdown is requested, then drains within the grace period.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.supervisor.run().await
    }
}

/// Loads the transformer when a model directory is configured (`transformer` builds only).
#[cfg(feature = "transformer")]
async fn load_transformer(
    config: &Config,
    metrics: &ScorerMetrics,
) -> anyhow::Result<Option<Arc<transformer::TransformerScorer>>> {
    let Some(settings) = config.transformer.settings() else {
        tracing::info!("no transformer model directory configured; the lexicon scores every post");
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let batch_metrics = metrics.clone();
    let observer: transformer::batcher::BatchObserver =
        Arc::new(move |batch_size, elapsed| batch_metrics.observe_transformer_batch(batch_size, elapsed));
    let scorer = transformer::TransformerScorer::load(settings.clone(), Some(observer)).await?;
    tracing::info!(
        model_dir = %settings.model_dir.display(),
        encoder = scorer.encoder_name(),
        sentiment_model = scorer.sentiment_model().unwrap_or("none"),
        policy = scorer.routing().policy.as_str(),
        publish_embeddings = scorer.publish_embeddings(),
        load_seconds = started.elapsed().as_secs_f64(),
        "transformer loaded"
    );
    Ok(Some(Arc::new(scorer)))
}
