//! Logs of in-process operators and gateway watchers, captured per test and shown for
//! the tests that fail.

/// Sends `tracing` output to the test's captured output, filtered by `RUST_LOG` (default
/// `info`, lease manager warnings only). Later calls do nothing.
pub fn capture_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube_lease_manager=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
