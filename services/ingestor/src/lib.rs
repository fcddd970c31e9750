//! The ingestor service: polls the watched subreddits, Telegram channels and hashtags, normalises
//! and pseudonymises every post, and publishes `Post` events on `murmur.posts.raw.v1`; serves
//! `SourceService` to manage watches.
//!
//! Built so far: the watch store (Postgres, migrations at start-up) and `SourceService`
//! watch management. The polling scheduler and publishing arrive with the rest of issue 4.
//!
//! `main.rs` only parses the config and calls [`Application::build`] then
//! [`Application::run_until_stopped`]; tests start the same application in-process on port 0.

pub mod config;

pub mod api;
pub mod store;

use std::net::SocketAddr;
use std::time::Duration;

use murmur_common::db;
use murmur_common::grpc::{bind, serve, standard_services};
use murmur_common::kafka::admin::check_brokers;
use murmur_common::kafka::client_config;
use murmur_common::metrics::KafkaMetrics;
use murmur_common::runtime::Supervisor;
use murmur_common::Shutdown;
use murmur_proto::api::v1::source_service_server::SourceServiceServer;
use prometheus_client::registry::Registry;

use crate::api::SourceApi;
use crate::store::{WatchStore, MIGRATOR};

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
        let _kafka_metrics = KafkaMetrics::register(&mut registry);
        check_brokers(&client_config(&config.kafka), Duration::from_secs(10)).await?;
        let pool = db::connect(&config.database, Duration::from_secs(10)).await?;
        MIGRATOR.run(&pool).await.map_err(|error| anyhow::anyhow!("database migrations failed: {error}"))?;
        let store = WatchStore::new(pool);

        let standard = standard_services(&["murmur.api.v1.SourceService"])?;
        let grpc_listener = bind(config.server.grpc_addr_or(DEFAULT_GRPC_PORT), "gRPC").await?;
        let grpc_addr = grpc_listener.local_addr()?;
        let admin_listener = bind(config.server.admin_addr_or(DEFAULT_ADMIN_PORT), "admin").await?;

        let mut supervisor = Supervisor::new(shutdown.clone(), standard.health.clone(), admin_listener, registry);
        let router = tonic::transport::Server::builder()
            .add_service(standard.health_service)
            .add_service(standard.reflection_service)
            .add_service(SourceServiceServer::new(SourceApi::new(store)));
        supervisor.spawn("grpc", serve(router, grpc_listener, shutdown.token()));
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
