//! The operator's Prometheus metrics, served as text on `--metrics-addr` `/metrics`
//! (plus `/healthz`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::Error;

/// Labels naming a scope.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabels {
    /// The namespace.
    pub scope: String,
}

/// Labels of reconcile errors.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The namespace.
    pub scope: String,
    /// `transient` or `permanent`.
    pub kind: String,
}

/// Operator metrics.
pub struct Metrics {
    registry: Registry,
    /// Scope reconciles run.
    pub reconciles: Family<ScopeLabels, Counter>,
    /// Scope reconciles that failed.
    pub errors: Family<ErrorLabels, Counter>,
    /// Configs written.
    pub configs_written: Family<ScopeLabels, Counter>,
    /// Size of the compiled config JSON, bytes.
    pub config_json_bytes: Family<ScopeLabels, Gauge>,
    /// Size of what the ConfigMap stores (JSON or gzip), bytes.
    pub config_stored_bytes: Family<ScopeLabels, Gauge>,
    /// Status patches sent.
    pub status_patches: Family<ScopeLabels, Counter>,
    /// Seconds from a resource change to its config being written.
    pub publication_seconds: Histogram,
    /// Seconds from a config being written to every live gateway serving it.
    pub live_seconds: Histogram,
    /// 1 while this process holds the leader Lease.
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Create and register every metric under `hermes_operator_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hermes_operator");
        let reconciles = Family::<ScopeLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let configs_written = Family::<ScopeLabels, Counter>::default();
        let config_json_bytes = Family::<ScopeLabels, Gauge>::default();
        let config_stored_bytes = Family::<ScopeLabels, Gauge>::default();
        let status_patches = Family::<ScopeLabels, Counter>::default();
        let publication_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let live_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        let leader = Gauge::default();
        registry.register("reconciles", "Scope reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Scope reconciles that failed",
            errors.clone(),
        );
        registry.register(
            "configs_written",
            "Gateway configs written",
            configs_written.clone(),
        );
        registry.register(
            "config_json_bytes",
            "Size of the compiled gateway config JSON",
            config_json_bytes.clone(),
        );
        registry.register(
            "config_stored_bytes",
            "Size of the gateway config as stored in its ConfigMap (JSON or gzip)",
            config_stored_bytes.clone(),
        );
        registry.register(
            "status_patches",
            "Status patches sent",
            status_patches.clone(),
        );
        registry.register(
            "config_publication_seconds",
            "Seconds from a resource change to its gateway config being written",
            publication_seconds.clone(),
        );
        registry.register(
            "config_live_seconds",
            "Seconds from a gateway config being written to every live gateway serving it",
            live_seconds.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            configs_written,
            config_json_bytes,
            config_stored_bytes,
            status_patches,
            publication_seconds,
            live_seconds,
            leader,
        }
    }

    /// Labels for `scope`.
    pub fn scope(scope: &str) -> ScopeLabels {
        ScopeLabels {
            scope: scope.to_string(),
        }
    }

    /// Count a failed reconcile.
    pub fn error(&self, scope: &str, error: &Error) {
        self.errors
            .get_or_create(&ErrorLabels {
                scope: scope.to_string(),
                kind: error.label().to_string(),
            })
            .inc();
    }

    /// Observe a duration in seconds.
    pub fn observe(histogram: &Histogram, elapsed: Duration) {
        histogram.observe(elapsed.as_secs_f64());
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// Serve `/metrics` and `/healthz` on `addr` until the future is dropped.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<(), Error> {
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(Error::Metrics)?;
    tracing::info!(%addr, "metrics endpoint listening");
    axum::serve(listener, app).await.map_err(Error::Metrics)
}

async fn render(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_prefix_and_labels() {
        let metrics = Metrics::new();
        metrics
            .reconciles
            .get_or_create(&Metrics::scope("shop"))
            .inc();
        metrics
            .config_json_bytes
            .get_or_create(&Metrics::scope("shop"))
            .set(1234);
        Metrics::observe(&metrics.publication_seconds, Duration::from_millis(150));
        let text = metrics.render();
        assert!(
            text.contains("hermes_operator_reconciles_total{scope=\"shop\"} 1"),
            "{text}"
        );
        assert!(text.contains("hermes_operator_config_json_bytes{scope=\"shop\"} 1234"));
        assert!(text.contains("hermes_operator_config_publication_seconds_count 1"));
    }
}
