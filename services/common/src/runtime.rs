//! Runs a service's long-lived tasks (gRPC server, consumers, pollers) next to the admin
//! endpoint, and orchestrates shutdown in the order Kubernetes expects: readiness goes
//! not-serving first, then tasks finish their in-flight work within the grace period, then
//! the admin endpoint stops.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin;
use crate::auth::{AuthMetrics, BearerAuth};
use crate::health::Health;
use crate::shutdown::Shutdown;

/// Owns a service's tasks and its admin endpoint.
pub struct Supervisor {
    shutdown: Shutdown,
    health: Health,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
    admin_task: JoinHandle<()>,
    admin_stop: CancellationToken,
    admin_addr: SocketAddr,
}

impl Supervisor {
    /// Starts the admin endpoint (not ready yet) on `admin_listener` with the frozen `registry`.
    pub fn new(shutdown: Shutdown, health: Health, admin_listener: TcpListener, registry: Registry) -> Self {
        let admin_stop = CancellationToken::new();
        let admin = admin::spawn(admin_listener, health.clone(), Arc::new(registry), admin_stop.clone());
        Self { shutdown, health, tasks: Vec::new(), admin_task: admin.task, admin_stop, admin_addr: admin.local_addr }
    }

    /// Where the admin endpoint listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Runs `task` until it ends; it must watch the shutdown token and return when it fires.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks.push((name, tokio::spawn(task)));
    }

    /// Marks the service ready and runs until shutdown is requested or a task stops on its own
    /// (which is treated as a failure and triggers shutdown). Returns the first task error.
    pub async fn run(self) -> anyhow::Result<()> {
        let Self { shutdown, health, tasks, admin_task, admin_stop, .. } = self;
        health.set_ready().await;

        let mut running: FuturesUnordered<_> =
            tasks.into_iter().map(|(name, handle)| async move { (name, handle.await) }).collect();
        let mut first_error: Option<anyhow::Error> = None;
        tokio::select! {
            biased;
            _ = shutdown.requested() => {}
            Some((name, outcome)) = running.next() => {
                // Tasks watch the same token, so one may finish in the very poll where shutdown
                // fires: that is a normal stop, not an early one.
                let stopped_early = !shutdown.is_triggered();
                let error = task_error(name, outcome).or_else(|| {
                    stopped_early.then(|| anyhow::anyhow!("task {name} stopped before shutdown was requested"))
                });
                if let Some(error) = error {
                    tracing::error!(task = name, error = format!("{error:#}"), "task stopped, shutting down");
                    first_error = Some(error);
                }
            }
        }

        health.set_not_ready().await;
        shutdown.trigger();
        tracing::info!(grace_period = ?shutdown.grace_period(), "draining in-flight work");
        let drained = shutdown
            .drain(async {
                while let Some((name, outcome)) = running.next().await {
                    if let Some(error) = task_error(name, outcome) {
                        tracing::error!(task = name, error = format!("{error:#}"), "task failed during shutdown");
                        first_error.get_or_insert(error);
                    }
                }
            })
            .await;
        if drained.is_err() {
            tracing::error!(grace_period = ?shutdown.grace_period(), "grace period elapsed, abandoning tasks");
            first_error.get_or_insert_with(|| anyhow::anyhow!("shutdown exceeded the grace period"));
        }
        admin_stop.cancel();
        let _ = admin_task.await;
        tracing::info!("stopped");
        first_error.map_or(Ok(()), Err)
    }
}

fn task_error(name: &str, outcome: Result<anyhow::Result<()>, tokio::task::JoinError>) -> Option<anyhow::Error> {
    match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.context(format!("task {name} failed"))),
        Err(join_error) => Some(anyhow::anyhow!("task {name} panicked or was cancelled: {join_error}")),
    }
}

/// Turns a binary's outcome into its exit code, printing the error's cause chain on one line
/// (no backtrace: this is what users read).
pub fn exit_code(outcome: anyhow::Result<()>) -> std::process::ExitCode {
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Binds a service's gRPC and admin listeners (from `server`, else the default ports), serves
/// `grpc.health.v1`, reflection and the service's own APIs (added by `add_apis`; their names in
/// `grpc_service_names` get health statuses), and returns the supervisor, not ready yet, with the
/// bound gRPC address. `add_apis` gets the [`BearerAuth`] to wrap each API service in
/// (`XServer::with_interceptor(api, auth)`). The metrics `registry` must be complete apart from
/// `murmur_grpc_unauthenticated_total`, registered here: it is frozen here.
pub async fn start_service(
    server: &crate::config::ServerArgs,
    default_ports: (u16, u16),
    grpc_service_names: &[&str],
    mut registry: Registry,
    shutdown: &Shutdown,
    add_apis: impl FnOnce(tonic::transport::server::Router, BearerAuth) -> tonic::transport::server::Router,
) -> anyhow::Result<(Supervisor, SocketAddr)> {
    let auth = BearerAuth::new(server.api_tokens()?, AuthMetrics::register(&mut registry));
    if auth.is_open() {
        tracing::warn!(
            "the gRPC API accepts calls without a bearer token: set MURMUR_API_TOKENS or MURMUR_API_TOKENS_FILE \
             unless only trusted clients can reach the port"
        );
    }
    let (default_grpc_port, default_admin_port) = default_ports;
    let standard = crate::grpc::standard_services(grpc_service_names)?;
    let grpc_listener = crate::grpc::bind(server.grpc_addr_or(default_grpc_port), "gRPC").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let admin_listener = crate::grpc::bind(server.admin_addr_or(default_admin_port), "admin").await?;
    let mut supervisor = Supervisor::new(shutdown.clone(), standard.health, admin_listener, registry);
    let router = tonic::transport::Server::builder()
        .add_service(standard.health_service)
        .add_service(standard.reflection_service);
    supervisor.spawn("grpc", crate::grpc::serve(add_apis(router, auth), grpc_listener, shutdown.token()));
    Ok((supervisor, grpc_addr))
}
