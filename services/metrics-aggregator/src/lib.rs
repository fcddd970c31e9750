//! The metrics-aggregator service: consumes `murmur.posts.scored.v1`, maintains the interaction
//! graph, detects communities and weak signals, stores KPIs, publishes alerts on
//! `murmur.alerts.v1` and serves `InsightsService`.
//!
//! `main.rs` only parses the config and calls [`Application::build`] then
//! [`Application::run_until_stopped`]; tests start the same application in-process on port 0.

pub mod config;

use std::net::SocketAddr;
use std::time::Duration;

use murmur_common::db;
use murmur_common::kafka::admin::check_brokers;
use murmur_common::kafka::client_config;
use murmur_common::metrics::KafkaMetrics;
use murmur_common::runtime::{start_service, Supervisor};
use murmur_common::Shutdown;
use prometheus_client::registry::Registry;

pub use config::Config;

/// Name used in logs, traces and metrics.
pub const SERVICE_NAME: &str = "metrics-aggregator";
/// Default gRPC port.
pub const DEFAULT_GRPC_PORT: u16 = 50053;
/// Default admin HTTP port.
pub const DEFAULT_ADMIN_PORT: u16 = 9103;

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
        let _pool = db::connect(&config.database, Duration::from_secs(10)).await?;

        let ports = (DEFAULT_GRPC_PORT, DEFAULT_ADMIN_PORT);
        let (supervisor, grpc_addr) =
            start_service(&config.server, ports, &[], registry, &shutdown, |router| router).await?;
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
