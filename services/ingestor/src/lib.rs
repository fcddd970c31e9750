//! The ingestor service: polls the watched subreddits, Telegram channels and hashtags, normalises
//! and pseudonymises every post, and publishes `Post` events on `murmur.posts.raw.v1`; serves
//! `SourceService` to manage watches.
//!
//! Not built yet: `IngestPosts`, watches from a config file, the replay connector as a watch.
//!
//! `main.rs` only parses the config and calls [`Application::build`] then
//! [`Application::run_until_stopped`]; tests start the same application in-process on port 0.

pub mod config;

pub mod api;
pub mod metrics;
pub mod scheduler;
pub mod sources;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use murmur_common::db;
use murmur_common::kafka::admin::check_brokers;
use murmur_common::kafka::client_config;
use murmur_common::metrics::KafkaMetrics;
use murmur_common::runtime::{start_service, Supervisor};
use murmur_common::Shutdown;
use murmur_proto::api::v1::source_service_server::SourceServiceServer;
use prometheus_client::registry::Registry;

use murmur_common::kafka::producer::EventProducer;
use murmur_connectors::schedule::{Backoff, PollIntervalPolicy};
use murmur_connectors::{Normaliser, Pseudonymiser};

use crate::api::{IngestSink, SourceApi};
use crate::metrics::IngestorMetrics;
use crate::scheduler::{Scheduler, SchedulerSettings};
use crate::sources::Sources;
use crate::store::{migrator, WatchStore};

pub use config::Config;

/// Name used in logs, traces and metrics.
pub const SERVICE_NAME: &str = "ingestor";
/// Default gRPC port.
pub const DEFAULT_GRPC_PORT: u16 = 50051;
/// Default admin HTTP port.
pub const DEFAULT_ADMIN_PORT: u16 = 9101;

/// A built, not yet running, service.
pub struct Application {
    supervisor: Supervisor,
    grpc_addr: SocketAddr,
}

impl Application {
    /// Checks the broker and the database, binds the listeners and prepares the tasks.
    pub async fn build(config: Config, shutdown: Shutdown) -> anyhow::Result<Self> {
        let mut registry = Registry::default();
        let kafka_metrics = KafkaMetrics::register(&mut registry);
        let ingestor_metrics = IngestorMetrics::register(&mut registry);
        let pseudonymiser = pseudonymiser(&config)?;
        check_brokers(&client_config(&config.kafka), Duration::from_secs(10)).await?;
        let pool = db::connect(&config.database, Duration::from_secs(10)).await?;
        db::migrate(&pool, migrator()).await?;
        let store = WatchStore::new(pool);
        if let Some(path) = &config.watches_file {
            let created = load_watches_file(&store, path).await?;
            tracing::info!(file = %path.display(), watches = created, "watches from the config file");
        }
        let normaliser = Normaliser::new(pseudonymiser);
        let replay = config.replay_file.as_ref().map(|path| murmur_connectors::replay::ReplayConfig {
            speed: config.replay_speed,
            ..murmur_connectors::replay::ReplayConfig::new(path)
        });
        if let Some(path) = &config.replay_file {
            if !path.is_file() {
                anyhow::bail!("MURMUR_REPLAY_FILE {} is not a readable file", path.display());
            }
            let target = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            store
                .create(&store::NewWatch {
                    platform: sources::REPLAY_PLATFORM.to_string(),
                    target,
                    instance: String::new(),
                    poll_interval_ms: 10_000,
                })
                .await?;
        }
        let sources = Arc::new(Sources::new(&config.platforms, normaliser.clone(), replay)?);
        let producer = EventProducer::new(&config.kafka, Some(kafka_metrics))?;
        let settings = SchedulerSettings {
            max_concurrent_polls: config.max_concurrent_polls,
            refresh_interval: config.watch_refresh,
            policy: PollIntervalPolicy {
                min: config.min_poll_interval,
                max: config.max_poll_interval,
                ..PollIntervalPolicy::default()
            },
            backoff: Backoff::default(),
            recent_ids: 10_000,
        };
        let scheduler = Scheduler::new(
            store.clone(),
            sources,
            producer.clone(),
            config.output_topic.clone(),
            settings,
            ingestor_metrics,
        );

        let ports = (DEFAULT_GRPC_PORT, DEFAULT_ADMIN_PORT);
        let api = SourceApi::new(
            store,
            IngestSink { normaliser, producer: producer.clone(), topic: config.output_topic.clone() },
        );
        let (mut supervisor, grpc_addr) = start_service(
            &config.server,
            ports,
            &["murmur.api.v1.SourceService"],
            registry,
            &shutdown,
            |router, auth| router.add_service(SourceServiceServer::with_interceptor(api, auth)),
        )
        .await?;
        let stop = shutdown.token();
        supervisor.spawn("scheduler", async move {
            scheduler.run(stop).await?;
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

/// One entry of the watches file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchEntry {
    platform: String,
    target: String,
    #[serde(default)]
    instance: String,
    #[serde(default)]
    poll_interval_seconds: Option<i64>,
}

/// Creates the watches of a JSON file (validated like the API's; existing ones are kept).
/// Returns how many entries the file holds.
pub async fn load_watches_file(store: &WatchStore, path: &std::path::Path) -> anyhow::Result<usize> {
    let raw = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read the watches file {}: {error}", path.display()))?;
    let entries: Vec<WatchEntry> = serde_json::from_str(&raw).map_err(|error| {
        anyhow::anyhow!("the watches file {} is not a JSON list of watches: {error}", path.display())
    })?;
    for (index, entry) in entries.iter().enumerate() {
        let platform = murmur_proto::events::v1::Platform::from_str_name(&format!(
            "PLATFORM_{}",
            entry.platform.trim().to_uppercase()
        ))
        .ok_or_else(|| anyhow::anyhow!("{}: entry {index}: unknown platform `{}`", path.display(), entry.platform))?;
        let watch = murmur_proto::api::v1::Watch {
            platform: platform as i32,
            target: entry.target.clone(),
            instance: entry.instance.clone(),
            poll_interval: entry.poll_interval_seconds.map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
            enabled: true,
            ..Default::default()
        };
        let new = api::validate_watch(&watch)
            .map_err(|status| anyhow::anyhow!("{}: entry {index}: {}", path.display(), status.message()))?;
        store.create(&new).await?;
    }
    Ok(entries.len())
}

/// The pseudonymiser from the configured key; the public dev key only in dev mode.
fn pseudonymiser(config: &Config) -> anyhow::Result<Pseudonymiser> {
    let key = match (&config.hmac_key, &config.hmac_key_file) {
        (Some(key), _) => Some(key.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|error| anyhow::anyhow!("cannot read the HMAC key file {}: {error}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ),
        (None, None) => None,
    };
    match key {
        Some(key) => Pseudonymiser::new(key.as_bytes()).map_err(|error| anyhow::anyhow!("invalid HMAC key: {error}")),
        None if config.dev_mode => {
            tracing::warn!("dev mode: authors are pseudonymised with the PUBLIC dev key; never use this in production");
            Ok(Pseudonymiser::dev())
        }
        None => anyhow::bail!(
            "no HMAC key: set MURMUR_HMAC_KEY or MURMUR_HMAC_KEY_FILE (16+ random bytes), \
             or MURMUR_DEV_MODE=true for local development"
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn the_ingestor_refuses_to_run_without_a_key_outside_dev_mode() {
        let no_key = Config::parse_from(["ingestor"]);
        let error = pseudonymiser(&no_key).expect_err("no key must be refused");
        assert!(error.to_string().contains("MURMUR_HMAC_KEY"), "{error}");
        let short = Config::parse_from(["ingestor", "--hmac-key=short"]);
        assert!(pseudonymiser(&short).is_err(), "a short key must be refused");
        let dev = Config::parse_from(["ingestor", "--dev-mode"]);
        assert!(pseudonymiser(&dev).expect("dev key").is_dev_mode());
        let real = Config::parse_from(["ingestor", "--hmac-key=0123456789abcdef0123"]);
        assert!(!pseudonymiser(&real).expect("real key").is_dev_mode());
        assert!(!format!("{real:?}").contains("0123456789abcdef0123"), "the key must not appear in Debug");
    }
}
