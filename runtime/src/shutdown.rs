/// Completes on SIGTERM (how Kubernetes stops a pod) or Ctrl-C, whichever comes first.
///
/// Where SIGTERM cannot be watched, Ctrl-C alone ends it, so a process is never left
/// without a way to stop gracefully.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
