//! The metrics-aggregator service: consumes `murmur.posts.scored.v1`, stores posts and their
//! interactions, maintains the interaction graph, detects communities and weak signals in event
//! time, stores KPIs, publishes alerts on `murmur.alerts.v1` and serves `InsightsService`.
//!
//! `main.rs` only parses the config and calls [`Application::build`] then
//! [`Application::run_until_stopped`]; tests start the same application in-process on port 0.

pub mod api;
pub mod config;
pub mod convert;
pub mod copy;
pub mod engine;
pub mod metrics;
pub mod pipeline;
pub mod store;
pub mod synthetic;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use murmur_common::db;
use murmur_common::kafka::admin::{check_brokers, topic_partitions};
use murmur_common::kafka::client_config;
use murmur_common::kafka::consumer::{BatchConsumer, ConsumerSettings};
use murmur_common::kafka::producer::EventProducer;
use murmur_common::metrics::KafkaMetrics;
use murmur_common::runtime::{start_service, Supervisor};
use murmur_common::Shutdown;
use murmur_proto::api::v1::insights_service_server::InsightsServiceServer;
use prometheus_client::registry::Registry;
use sqlx::PgPool;

pub use config::Config;

use crate::api::InsightsApi;
use crate::engine::{Engine, EngineConfig};
use crate::metrics::AggregatorMetrics;
use crate::pipeline::{AggregatorHandler, AlertSink, PartitionClock, SNAPSHOT_NAME};
use crate::store::Store;

/// Name used in logs, traces and metrics.
pub const SERVICE_NAME: &str = "metrics-aggregator";
/// Default gRPC port.
pub const DEFAULT_GRPC_PORT: u16 = 50053;
/// Default admin HTTP port.
pub const DEFAULT_ADMIN_PORT: u16 = 9103;
/// Posts re-read per query when resuming after the snapshot.
const REFEED_PAGE: i64 = 5_000;

/// A built, not yet running, service.
pub struct Application {
    supervisor: Supervisor,
    grpc_addr: SocketAddr,
}

/// Applies the aggregator's migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    db::migrate(pool, store::migrator()).await
}

/// Restores the engine from the latest snapshot and re-feeds what was stored after it; results are
/// persisted as the handler would (idempotently). Returns the engine and the posts re-fed.
pub async fn restore_engine(store: &Store, config: EngineConfig) -> anyhow::Result<(Engine, u64)> {
    let started = Instant::now();
    let mut engine = match store.load_snapshot(SNAPSHOT_NAME).await? {
        Some((last_seq, state)) => {
            let mut engine = Engine::restore(config, &state)?;
            engine.set_last_seq(last_seq);
            tracing::info!(last_seq, bytes = state.len(), "detector state restored from its snapshot");
            engine
        }
        None => Engine::new(config),
    };
    // The open window's posts the snapshot does not hold.
    if let Some(window_start) = engine.window_start() {
        for post in store.window_posts(window_start, engine.last_seq()).await? {
            engine.reload_window_post(&post);
        }
    }
    let mut refed = 0_u64;
    let mut outputs = Vec::new();
    loop {
        let page = store.posts_after(engine.last_seq(), REFEED_PAGE).await?;
        let Some((last_seq, _)) = page.last() else { break };
        let last_seq = *last_seq;
        let posts: Vec<_> = page.into_iter().map(|(_, post)| post).collect();
        refed += posts.len() as u64;
        outputs.extend(engine.ingest(&posts, &[], None));
        engine.set_last_seq(last_seq);
    }
    for output in &outputs {
        match output {
            engine::EngineOutput::Bucket(bucket) => store.persist_bucket(bucket).await?,
            engine::EngineOutput::Detection(run) => store.persist_detection(run).await?,
        }
    }
    if refed > 0 {
        tracing::info!(
            posts = refed,
            seconds = started.elapsed().as_secs_f64(),
            "re-fed posts stored after the snapshot"
        );
    }
    Ok((engine, refed))
}

impl Application {
    /// Checks the broker and the database, migrates, restores the detector, binds the listeners
    /// and prepares the tasks.
    pub async fn build(config: Config, shutdown: Shutdown) -> anyhow::Result<Self> {
        let engine_config = config.detection.engine_config()?;
        let mut registry = Registry::default();
        let kafka_metrics = KafkaMetrics::register(&mut registry);
        let metrics = AggregatorMetrics::register(&mut registry);
        check_brokers(&client_config(&config.kafka), Duration::from_secs(10)).await?;
        let pool = db::connect(&config.database, Duration::from_secs(10)).await?;
        migrate(&pool).await?;
        let store = Store::new(pool.clone());
        let (engine, _) = restore_engine(&store, engine_config).await?;

        let producer = EventProducer::new(&config.kafka, Some(kafka_metrics.clone()))?;
        let mut settings = ConsumerSettings::from_args(&config.input_topic, SERVICE_NAME, &config.consumer);
        settings.deadletter_topic = config.deadletter_topic.clone();
        let consumer: BatchConsumer<AggregatorHandler> =
            BatchConsumer::new(&config.kafka, settings, producer.clone(), Some(kafka_metrics))?;
        let partitions =
            topic_partitions(&client_config(&config.kafka), &config.input_topic, Duration::from_secs(10)).await?;
        let clock = PartitionClock::new(partitions, config.detection.partition_idle_timeout);
        let (hub, _) = tokio::sync::broadcast::channel(4096);
        let (handler, worker) = AggregatorHandler::new(
            engine,
            store.clone(),
            AlertSink { producer: producer.clone(), topic: config.alerts_topic.clone(), hub: hub.clone() },
            metrics,
            config.snapshot_interval,
            clock,
        );
        let handler = Arc::new(handler);
        let api = InsightsApi::new(pool, hub, config.max_page_size, shutdown.token());

        let ports = (DEFAULT_GRPC_PORT, DEFAULT_ADMIN_PORT);
        let (mut supervisor, grpc_addr) = start_service(
            &config.server,
            ports,
            &["murmur.api.v1.InsightsService"],
            registry,
            &shutdown,
            |router, auth| router.add_service(InsightsServiceServer::with_interceptor(api, auth)),
        )
        .await?;
        let stop = shutdown.token();
        // Alerts stored but not produced before a crash go out first.
        supervisor.spawn("detection", worker.run(stop));
        let stop = shutdown.token();
        let consuming = Arc::clone(&handler);
        supervisor.spawn("consumer", async move {
            let handler = consuming;
            consumer.run(&*handler, stop).await?;
            // Everything stored goes through the engine, then a snapshot, and the worker stops.
            if let Err(error) = handler.finish().await {
                tracing::warn!(error = %error, "final detector snapshot failed; the next start re-reads more posts");
            }
            producer.flush(Duration::from_secs(5));
            Ok(())
        });
        let stop = shutdown.token();
        let ticking = Arc::clone(&handler);
        supervisor.spawn("watermark", async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                if ticking.tick().await.is_err() {
                    // The worker stopped: shutting down.
                    return Ok(());
                }
            }
        });
        let stop = shutdown.token();
        let retention = config.text_retention;
        let interval = config.purge_interval;
        supervisor.spawn("text-purge", async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(interval) => {}
                }
                let before =
                    chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
                match store.purge_text(before).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(posts = purged, "post texts past retention removed"),
                    Err(error) => tracing::warn!(error = %error, "text purge failed; retrying at the next interval"),
                }
            }
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
