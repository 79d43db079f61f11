//! Serving the router over TCP with the timeouts a hostile or stalled client needs:
//! `axum::serve` sets no timer, so a client trickling its request head would hold a
//! connection forever. Each connection is served by hyper's HTTP/1 + HTTP/2 builder with
//! a header read timeout; the body read timeout is the handlers' (`read_body`). When the
//! shutdown future completes (see `shutdown.rs` for the delay before it does) the listener
//! closes and open connections finish their requests, for at most [`DRAIN_TIMEOUT`].

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long to wait before accepting again after `accept` failed (e.g. out of file
/// descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long open connections may take to finish after the listener closed. Hits finish in
/// milliseconds; what would not (a live-preview event stream, a client trickling its body
/// up to the body read timeout) must not hold the shutdown, and the flush of the pending
/// messages after it, until Kubernetes' SIGKILL.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve `app` on `listener` until `shutdown` completes, then let open connections
/// finish (up to [`DRAIN_TIMEOUT`]). A client that has not sent its whole request head within
/// `header_read_timeout` is disconnected. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // As `axum::serve` does: without it, Nagle's algorithm holds a response's last
        // segment until the client's delayed ACK (tens of ms): a profile under wrk showed
        // the gateway at 10 % CPU and 3,400 page views/s, each waiting ~30 ms.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let service = app
            .clone()
            .map_request(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?DRAIN_TIMEOUT,
            "connections still open after the drain timeout: closing them"
        );
    }
}
