//! murmur's shared service runtime. No business logic lives here: only what every service
//! needs to be a well-behaved process.
//!
//! - [`config`]: CLI flags with environment-variable equivalents (documented in `--help`);
//! - [`telemetry`]: JSON logs, OpenTelemetry traces over OTLP, W3C trace context in Kafka headers;
//! - [`kafka`]: an idempotent producer and an at-least-once batch consumer with dead-lettering;
//! - [`admin`]: `/healthz`, `/readyz` and Prometheus `/metrics`;
//! - [`grpc`]: `grpc.health.v1` and server reflection;
//! - [`auth`]: bearer tokens on the gRPC APIs;
//! - [`shutdown`]: SIGTERM/SIGINT handling with a grace period;
//! - [`db`]: Postgres connection with a clear error when unreachable;
//! - [`runtime`]: the supervisor that runs tasks and orders shutdown.

pub mod admin;
pub mod auth;
pub mod config;
pub mod db;
pub mod grpc;
pub mod health;
pub mod kafka;
pub mod metrics;
pub mod runtime;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use health::Health;
pub use shutdown::Shutdown;
