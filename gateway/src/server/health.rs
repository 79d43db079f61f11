//! `/healthz`, `/readyz` (config loaded, publisher ready, not shutting down; shows the
//! config hash) and `/metrics` (Prometheus text).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::config_source::ConfigSink;

/// Liveness: the process answers.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: a config is loaded, the publisher can publish, and the gateway is not
/// shutting down (from SIGTERM on it answers 503 while it still serves hits, so traffic
/// moves elsewhere before the listener closes).
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let hash = state.config.current_hash();
    let publisher_ready = state.publisher.is_ready();
    let draining = state.draining.is_draining();
    let ready = hash.is_some() && publisher_ready && !draining;
    let body = json!({
        "ready": ready,
        "configHash": hash,
        "publisherReady": publisher_ready,
        "draining": draining,
        "queueDepth": state.publisher.queue_depth(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Every metric in Prometheus text format.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        tracing::warn!(%error, "metrics encoding failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
