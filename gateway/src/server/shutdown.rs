//! Graceful shutdown in the order Kubernetes needs. When a pod is deleted, its container
//! gets SIGTERM at the same moment its address starts to leave the Service's endpoints;
//! kube-proxy, Ingress controllers and cloud load balancers learn that seconds later and
//! keep sending hits meanwhile. A gateway that closed its listener on SIGTERM would refuse
//! those (connection refused: lost browser beacons). So on the signal `/readyz` answers
//! 503 at once (readiness false: whatever still routes by readiness stops), the gateway
//! keeps serving every request for the shutdown delay, and only then closes its listener
//! and lets the requests in flight finish ([`serve`](super::serve)); the publisher then
//! publishes what is pending or leaves it in the buffer for the next start.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether the gateway is shutting down; shared by the shutdown sequence and `/readyz`.
/// Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// From now on `/readyz` answers 503.
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The shutdown future for [`serve`](super::serve): waits for `signal`, marks
/// `draining` at once, and completes `delay` later, when the listener may close.
pub async fn drain_after(signal: impl Future<Output = ()>, draining: Draining, delay: Duration) {
    signal.await;
    draining.start();
    tracing::info!(
        ?delay,
        "shutting down: /readyz answers 503, serving on until the delay has passed"
    );
    tokio::time::sleep(delay).await;
    tracing::info!("shutdown delay over: closing the listener, finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn draining_starts_with_the_signal_and_the_listener_closes_after_the_delay() {
        let draining = Draining::default();
        let (signal, received) = tokio::sync::oneshot::channel::<()>();
        let delay = Duration::from_millis(300);
        let shutdown = tokio::spawn(drain_after(
            async {
                let _ = received.await;
            },
            draining.clone(),
            delay,
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!draining.is_draining(), "no signal yet");
        let signalled = tokio::time::Instant::now();
        signal.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            draining.is_draining(),
            "draining as soon as the signal came"
        );
        assert!(!shutdown.is_finished(), "still serving during the delay");
        shutdown.await.unwrap();
        assert!(signalled.elapsed() >= delay);
    }
}
