//! Readiness shared by the admin endpoint and the gRPC health service, so the two never disagree.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

/// Process readiness. Liveness is implicit (the admin server answers); readiness is set by the
/// service once its dependencies are connected and cleared first thing on shutdown.
#[derive(Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    reporter: HealthReporter,
    grpc_service_names: Arc<Vec<String>>,
}

impl Health {
    /// A not-ready health, reporting through `reporter` for the overall server ("") and each
    /// named gRPC service.
    pub fn new(reporter: HealthReporter, grpc_service_names: Vec<String>) -> Self {
        Self { ready: Arc::new(AtomicBool::new(false)), reporter, grpc_service_names: Arc::new(grpc_service_names) }
    }

    /// Whether the service accepts work.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Marks the service serving (admin `/readyz` 200, gRPC health SERVING).
    pub async fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
        self.report(ServingStatus::Serving).await;
        tracing::info!("service ready");
    }

    /// Marks the service not serving; called first on shutdown so load balancers drain it.
    pub async fn set_not_ready(&self) {
        self.ready.store(false, Ordering::SeqCst);
        self.report(ServingStatus::NotServing).await;
        tracing::info!("service not ready");
    }

    async fn report(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for name in self.grpc_service_names.iter() {
            self.reporter.set_service_status(name.as_str(), status).await;
        }
    }
}
