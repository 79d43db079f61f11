//! The operator's Prometheus metrics, served as text on `--metrics-addr` `/metrics`
//! (plus `/healthz`).

use std::net::SocketAddr;
use std::sync::Arc;

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

/// Labels naming a namespace. The label is `scope`, not `namespace`: Prometheus'
/// Kubernetes discovery sets `namespace` to the operator pod's own.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabels {
    /// The namespace reconciled.
    pub scope: String,
}

impl ScopeLabels {
    /// The labels of `namespace`.
    pub fn of(namespace: &str) -> Self {
        ScopeLabels {
            scope: namespace.to_string(),
        }
    }
}

/// Labels of failed reconciles.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The namespace reconciled.
    pub scope: String,
    /// The step that failed (`compile`, `write_config`, `sync_statuses`).
    pub step: String,
    /// `transient` or `permanent`.
    pub kind: String,
}

/// Labels of config publication outcomes sent, and of topic checks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The namespace reconciled.
    pub scope: String,
    /// Publications: `success` or `failure`; topic checks: `exists`, `missing`,
    /// `forbidden` or `unreachable`.
    pub outcome: String,
}

/// Labels of watch failures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    /// The namespace watched.
    pub scope: String,
    /// The kind watched (`Tag`, `ConfigMap`, `Lease`, ...).
    pub resource: String,
}

/// Labels of lookup feed messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedLabels {
    /// The LookupTable's namespace.
    pub scope: String,
    /// The LookupTable.
    pub table: String,
    /// `applied`, `stale`, `rejected` or `retried`.
    pub outcome: String,
    /// Why rejected or retried (e.g. `BadJson`, `TooLarge`); empty otherwise.
    pub reason: String,
}

/// Labels naming a fed LookupTable.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedTableLabels {
    /// The LookupTable's namespace.
    pub scope: String,
    /// The LookupTable.
    pub table: String,
}

/// Operator metrics, all named `hermes_operator_…`. Updated only by
/// [`crate::events`], which logs each change with it; `docs/metrics.md` lists them.
pub struct Metrics {
    registry: Registry,
    pub(crate) reconciles: Family<ScopeLabels, Counter>,
    pub(crate) reconcile_errors: Family<ErrorLabels, Counter>,
    pub(crate) configs_written: Family<ScopeLabels, Counter>,
    pub(crate) configs_unchanged: Family<ScopeLabels, Counter>,
    pub(crate) configs_too_large: Family<ScopeLabels, Counter>,
    pub(crate) config_json_bytes: Family<ScopeLabels, Gauge>,
    pub(crate) config_stored_bytes: Family<ScopeLabels, Gauge>,
    pub(crate) config_shards: Family<ScopeLabels, Gauge>,
    pub(crate) compile_seconds: Histogram,
    pub(crate) stale_shards_removed: Family<ScopeLabels, Counter>,
    pub(crate) stale_shard_removal_failures: Family<ScopeLabels, Counter>,
    pub(crate) status_patches: Family<ScopeLabels, Counter>,
    pub(crate) status_objects_gone: Family<ScopeLabels, Counter>,
    pub(crate) transition_events_failed: Family<ScopeLabels, Counter>,
    pub(crate) outcomes_sent: Family<OutcomeLabels, Counter>,
    pub(crate) outcome_failures: Family<ScopeLabels, Counter>,
    pub(crate) gateway_leases_removed: Family<ScopeLabels, Counter>,
    pub(crate) gateway_lease_removal_failures: Family<ScopeLabels, Counter>,
    pub(crate) watch_errors: Family<WatchLabels, Counter>,
    pub(crate) topic_checks: Family<OutcomeLabels, Counter>,
    pub(crate) publication_seconds: Histogram,
    pub(crate) live_seconds: Histogram,
    pub(crate) leader: Gauge,
    pub(crate) leader_election_errors: Counter,
    pub(crate) feed_messages: Family<FeedLabels, Counter>,
    pub(crate) feed_stream_errors: Family<FeedTableLabels, Counter>,
    pub(crate) feed_report_errors: Family<FeedTableLabels, Counter>,
    pub(crate) feeds_running: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Create and register every metric under `hermes_operator_`.
    pub fn new() -> Self {
        let mut metrics = Metrics {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            configs_written: Family::default(),
            configs_unchanged: Family::default(),
            configs_too_large: Family::default(),
            config_json_bytes: Family::default(),
            config_stored_bytes: Family::default(),
            config_shards: Family::default(),
            compile_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            stale_shards_removed: Family::default(),
            stale_shard_removal_failures: Family::default(),
            status_patches: Family::default(),
            status_objects_gone: Family::default(),
            transition_events_failed: Family::default(),
            outcomes_sent: Family::default(),
            outcome_failures: Family::default(),
            gateway_leases_removed: Family::default(),
            gateway_lease_removal_failures: Family::default(),
            watch_errors: Family::default(),
            topic_checks: Family::default(),
            publication_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            live_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
            leader: Gauge::default(),
            leader_election_errors: Counter::default(),
            feed_messages: Family::default(),
            feed_stream_errors: Family::default(),
            feed_report_errors: Family::default(),
            feeds_running: Gauge::default(),
            registry: Registry::with_prefix("hermes_operator"),
        };
        let r = &mut metrics.registry;
        r.register(
            "feed_messages",
            "Lookup feed messages settled, by outcome (applied, stale, rejected, retried) and reason",
            metrics.feed_messages.clone(),
        );
        r.register(
            "feed_stream_errors",
            "Lookup feed subscription streams that failed and were reopened",
            metrics.feed_stream_errors.clone(),
        );
        r.register(
            "feed_report_errors",
            "Lookup feed statuses or Events that could not be written",
            metrics.feed_report_errors.clone(),
        );
        r.register(
            "feeds_running",
            "Lookup feeds this replica receives from (0 unless leader)",
            metrics.feeds_running.clone(),
        );
        r.register(
            "reconciles",
            "Namespace reconciles run",
            metrics.reconciles.clone(),
        );
        r.register(
            "reconcile_errors",
            "Namespace reconciles that failed, by step",
            metrics.reconcile_errors.clone(),
        );
        r.register(
            "configs_written",
            "Gateway configs written",
            metrics.configs_written.clone(),
        );
        r.register(
            "configs_unchanged",
            "Reconciles that found the ConfigMap already holding the compiled config",
            metrics.configs_unchanged.clone(),
        );
        r.register(
            "configs_too_large",
            "Reconciles whose compiled config exceeds the ConfigMap limit (not written)",
            metrics.configs_too_large.clone(),
        );
        r.register(
            "config_json_bytes",
            "Size of the compiled gateway config JSON",
            metrics.config_json_bytes.clone(),
        );
        r.register(
            "config_stored_bytes",
            "Size of the gateway config as stored in its ConfigMap (JSON or gzip)",
            metrics.config_stored_bytes.clone(),
        );
        r.register(
            "status_patches",
            "Status patches sent",
            metrics.status_patches.clone(),
        );
        r.register(
            "status_objects_gone",
            "Status patches answered 404: the object was deleted meanwhile",
            metrics.status_objects_gone.clone(),
        );
        r.register(
            "transition_events_failed",
            "Kubernetes Events for Ready transitions that could not be recorded",
            metrics.transition_events_failed.clone(),
        );
        r.register(
            "outcomes_sent",
            "Config publication outcome messages published",
            metrics.outcomes_sent.clone(),
        );
        r.register(
            "outcome_failures",
            "Config publication outcome messages that could not be published",
            metrics.outcome_failures.clone(),
        );
        r.register(
            "gateway_leases_removed",
            "Leases of gateway replicas gone for an hour, deleted",
            metrics.gateway_leases_removed.clone(),
        );
        r.register(
            "gateway_lease_removal_failures",
            "Leases of gone gateway replicas that could not be deleted",
            metrics.gateway_lease_removal_failures.clone(),
        );
        r.register(
            "config_shards",
            "ConfigMaps the last compiled config that fits is stored in (1 unless sharded)",
            metrics.config_shards.clone(),
        );
        r.register(
            "compile_seconds",
            "Seconds the compile step takes (compile and encode a namespace's config)",
            metrics.compile_seconds.clone(),
        );
        r.register(
            "stale_shards_removed",
            "Shard ConfigMaps of configs no longer served, deleted",
            metrics.stale_shards_removed.clone(),
        );
        r.register(
            "stale_shard_removal_failures",
            "Shard ConfigMaps of configs no longer served that could not be deleted",
            metrics.stale_shard_removal_failures.clone(),
        );
        r.register(
            "watch_errors",
            "Watch failures (retried with backoff)",
            metrics.watch_errors.clone(),
        );
        r.register(
            "topic_checks",
            "Answers to whether a Tag's topic exists, by outcome (exists, missing, forbidden, unreachable)",
            metrics.topic_checks.clone(),
        );
        r.register(
            "config_publication_seconds",
            "Seconds from a resource change to its gateway config being written",
            metrics.publication_seconds.clone(),
        );
        r.register(
            "config_live_seconds",
            "Seconds from a gateway config being written to every live gateway serving it",
            metrics.live_seconds.clone(),
        );
        r.register(
            "leader",
            "1 while this replica holds the leader Lease",
            metrics.leader.clone(),
        );
        r.register(
            "leader_election_errors",
            "Leader election steps (reading, taking or renewing the Lease) that failed and were retried",
            metrics.leader_election_errors.clone(),
        );
        metrics
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
    let failed = |source| Error::ServeMetrics { addr, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(failed)?;
    tracing::info!(%addr, "metrics endpoint listening");
    axum::serve(listener, app).await.map_err(failed)
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
