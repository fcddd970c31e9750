//! The admin HTTP endpoint every service exposes on its own port:
//! `/healthz` (liveness: the process answers), `/readyz` (readiness: 200 only while the
//! service accepts work, 503 before start-up completes and from the start of shutdown) and
//! `/metrics` (Prometheus text format).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::health::Health;

#[derive(Clone)]
struct AdminState {
    health: Health,
    registry: Arc<Registry>,
}

/// A running admin server.
pub struct AdminServer {
    /// Where it listens (useful when bound to port 0).
    pub local_addr: SocketAddr,
    /// The server task; it ends when the stop token is cancelled.
    pub task: JoinHandle<()>,
}

/// The admin routes, for embedding or tests.
pub fn router(health: Health, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AdminState { health, registry })
}

/// Serves the admin routes on `listener` until `stop` is cancelled. The admin server outlives
/// the service's shutdown so probes see "not ready" while in-flight work drains.
pub fn spawn(listener: TcpListener, health: Health, registry: Arc<Registry>, stop: CancellationToken) -> AdminServer {
    let local_addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let app = router(health, registry);
    let task = tokio::spawn(async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(error) = serving.await {
            tracing::error!(%error, "admin server failed");
        }
    });
    tracing::info!(admin_addr = %local_addr, "admin endpoint listening");
    AdminServer { local_addr, task }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let mut body = String::with_capacity(16 * 1024);
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            body,
        ),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot encode metrics: {error}\n"),
        ),
    }
}
