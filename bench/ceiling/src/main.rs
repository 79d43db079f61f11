//! The HTTP ceiling of `scripts/load-bench`: the same web stack as the gateway (axum on a
//! multi-threaded tokio runtime) answering 204 to the benchmark's hits and doing nothing
//! else. Whatever the gateway does per hit shows as its distance from this server.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::any;
use clap::Parser;

/// Flags of the ceiling server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to serve on (loopback only: it is a benchmark).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
}

/// Takes the hit's body like the gateway does (the body of an MP hit is read, not left on
/// the socket) and answers 204.
async fn collect(_body: axum::body::Bytes) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = Router::new()
        .route("/g/collect", any(collect))
        .route("/mp/collect", any(collect));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(hermes_runtime::shutdown_signal())
        .await
        .context("serving")
}
