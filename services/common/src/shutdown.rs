//! Graceful shutdown: one cancellation token cancelled by SIGTERM/SIGINT (or by the
//! application), and a grace period within which tasks must finish.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The process-wide shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    token: CancellationToken,
    grace_period: Duration,
}

impl Shutdown {
    /// A shutdown that is only triggered by [`Shutdown::trigger`] (tests, embedding).
    pub fn new(grace_period: Duration) -> Self {
        Self { token: CancellationToken::new(), grace_period }
    }

    /// A shutdown also triggered by SIGTERM or SIGINT. Must be called inside a tokio runtime.
    pub fn with_signals(grace_period: Duration) -> Self {
        let shutdown = Self::new(grace_period);
        let token = shutdown.token.clone();
        tokio::spawn(async move {
            let signal_name = wait_for_signal().await;
            tracing::info!(signal = signal_name, "shutdown requested");
            token.cancel();
        });
        shutdown
    }

    /// Requests shutdown.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown was requested.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when shutdown is requested.
    pub async fn requested(&self) {
        self.token.cancelled().await
    }

    /// A clone of the underlying token, for components that take one.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The configured grace period.
    pub fn grace_period(&self) -> Duration {
        self.grace_period
    }

    /// Waits for `work` to finish once shutdown has been requested, for at most the grace
    /// period. Returns `Err` with the elapsed grace if it did not finish in time.
    pub async fn drain<F: Future>(&self, work: F) -> Result<F::Output, Duration> {
        tokio::time::timeout(self.grace_period, work).await.map_err(|_| self.grace_period)
    }
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM, only Ctrl-C will stop the service");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn drain_gives_up_after_the_grace_period() {
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let too_slow = shutdown.drain(tokio::time::sleep(Duration::from_secs(60))).await;
        assert_eq!(too_slow, Err(Duration::from_secs(5)));
        let quick = shutdown.drain(async { 7 }).await;
        assert_eq!(quick, Ok(7));
    }

    #[tokio::test]
    async fn trigger_wakes_waiters() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let waiter = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move { shutdown.requested().await })
        };
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        waiter.await.expect("waiter finished");
        assert!(shutdown.is_triggered());
    }
}
