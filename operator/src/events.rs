//! What happens in the operator, one struct per thing (after Vector's `internal_events`):
//! [`Emit::emit`] writes the log line and updates the metric together, with fixed labels,
//! so a log line and its counter never drift apart. Nothing else touches [`Metrics`].
//! (These are the operator's own happenings; the Kubernetes Events recorded on Ready
//! transitions are objects in the cluster, written by `reconcile::sync_statuses`.)

use std::time::Duration;

use hermes_compiler::compile::ObjectKey;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::error::ReconcileError;
use crate::metrics::{ErrorLabels, Metrics, OutcomeLabels, ScopeLabels, WatchLabels};
use crate::publication::{Outcome, PublicationError};

/// Count one more in `namespace`.
fn count(counter: &Family<ScopeLabels, Counter>, namespace: &str) {
    counter.get_or_create(&ScopeLabels::of(namespace)).inc();
}

/// Something that happened: log it and count it.
pub trait Emit {
    /// Write the log line and update the metric.
    fn emit(&self, metrics: &Metrics);
}

/// A namespace reconcile finished every step.
pub struct ReconcileDone<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The config hash it reconciled to.
    pub hash: &'a str,
}

impl Emit for ReconcileDone<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::debug!(
            namespace = self.namespace,
            config_hash = self.hash,
            "reconciled"
        );
        count(&metrics.reconciles, self.namespace);
    }
}

/// A namespace reconcile stopped at a failed step.
pub struct ReconcileFailed<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The step's error.
    pub error: &'a ReconcileError,
    /// When a transient error is retried; `None`: waiting for a change.
    pub retry_in: Option<Duration>,
}

impl Emit for ReconcileFailed<'_> {
    fn emit(&self, metrics: &Metrics) {
        let (namespace, error, step) = (self.namespace, self.error, self.error.step());
        match self.retry_in {
            Some(retry_in) => {
                tracing::warn!(namespace, step, %error, ?retry_in, "reconcile failed; retrying")
            }
            None => {
                tracing::error!(namespace, step, %error, "reconcile failed; waiting for a change")
            }
        }
        count(&metrics.reconciles, namespace);
        metrics
            .reconcile_errors
            .get_or_create(&ErrorLabels {
                scope: namespace.to_string(),
                step: step.to_string(),
                kind: error.retry_label().to_string(),
            })
            .inc();
    }
}

/// A namespace reconcile stopped before writing because another replica leads.
pub struct ReconcileStoppedNotLeader<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// What the leadership check said.
    pub error: &'a ReconcileError,
}

impl Emit for ReconcileStoppedNotLeader<'_> {
    fn emit(&self, metrics: &Metrics) {
        let error = self.error;
        tracing::info!(namespace = self.namespace, %error, "no longer the leader; not writing");
        count(&metrics.reconciles, self.namespace);
    }
}

/// The namespace's config was compiled and encoded.
pub struct ConfigEncoded<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// Size of the JSON.
    pub json_bytes: usize,
    /// Size as stored (JSON or gzip).
    pub stored_bytes: usize,
}

impl Emit for ConfigEncoded<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::debug!(
            namespace = self.namespace,
            json_bytes = self.json_bytes,
            stored_bytes = self.stored_bytes,
            "config encoded"
        );
        let labels = ScopeLabels::of(self.namespace);
        let bytes = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        metrics
            .config_json_bytes
            .get_or_create(&labels)
            .set(bytes(self.json_bytes));
        metrics
            .config_stored_bytes
            .get_or_create(&labels)
            .set(bytes(self.stored_bytes));
    }
}

/// The config ConfigMap was written.
pub struct ConfigWritten<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The hash written.
    pub hash: &'a str,
    /// `json` or `gzip`.
    pub encoding: &'a str,
    /// Bytes stored.
    pub bytes: usize,
    /// How many compiler diagnostics the config has.
    pub diagnostics: usize,
    /// How long since the first change it includes, when a change started it.
    pub since_change: Option<Duration>,
}

impl Emit for ConfigWritten<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(
            namespace = self.namespace,
            config_hash = self.hash,
            encoding = self.encoding,
            bytes = self.bytes,
            diagnostics = self.diagnostics,
            "config written"
        );
        count(&metrics.configs_written, self.namespace);
        if let Some(since) = self.since_change {
            metrics.publication_seconds.observe(since.as_secs_f64());
        }
    }
}

/// The ConfigMap already holds the compiled config: nothing written.
pub struct ConfigUnchanged<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The hash it holds.
    pub hash: &'a str,
}

impl Emit for ConfigUnchanged<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::debug!(
            namespace = self.namespace,
            config_hash = self.hash,
            "config unchanged; not written"
        );
        count(&metrics.configs_unchanged, self.namespace);
    }
}

/// The compiled config exceeds the ConfigMap limit: the previous config stays.
pub struct ConfigTooLarge<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// By how much.
    pub reason: &'a str,
}

impl Emit for ConfigTooLarge<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::warn!(
            namespace = self.namespace,
            error = self.reason,
            "config not written; the previous config stays"
        );
        count(&metrics.configs_too_large, self.namespace);
    }
}

/// Every reporting gateway replica serves the config written.
pub struct ConfigLive<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The hash served.
    pub hash: &'a str,
    /// How long since it was written.
    pub since_written: Duration,
}

impl Emit for ConfigLive<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(namespace = self.namespace, config_hash = self.hash, after = ?self.since_written, "config live on every gateway replica");
        metrics
            .live_seconds
            .observe(self.since_written.as_secs_f64());
    }
}

/// An object's status was patched.
pub struct StatusPatched<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The object.
    pub object: &'a ObjectKey,
}

impl Emit for StatusPatched<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::debug!(namespace = self.namespace, object = %self.object, "status patched");
        count(&metrics.status_patches, self.namespace);
    }
}

/// A status patch found the object deleted: nothing left to report on.
pub struct StatusObjectGone<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The object.
    pub object: &'a ObjectKey,
}

impl Emit for StatusObjectGone<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::debug!(namespace = self.namespace, object = %self.object, "object deleted before its status patch");
        count(&metrics.status_objects_gone, self.namespace);
    }
}

/// The Kubernetes Event for a Ready transition could not be recorded.
pub struct TransitionEventFailed<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The object.
    pub object: &'a ObjectKey,
    /// The API error.
    pub error: &'a kube::Error,
}

impl Emit for TransitionEventFailed<'_> {
    fn emit(&self, metrics: &Metrics) {
        let error = self.error;
        tracing::debug!(namespace = self.namespace, object = %self.object, %error, "Kubernetes Event not recorded");
        count(&metrics.transition_events_failed, self.namespace);
    }
}

/// A config publication outcome message was published.
pub struct OutcomeSent<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The config hash it reports on.
    pub hash: &'a str,
    /// What it says.
    pub outcome: Outcome,
}

impl Emit for OutcomeSent<'_> {
    fn emit(&self, metrics: &Metrics) {
        let outcome = self.outcome.as_str();
        tracing::info!(
            namespace = self.namespace,
            config_hash = self.hash,
            outcome,
            "config outcome published"
        );
        metrics
            .outcomes_sent
            .get_or_create(&OutcomeLabels {
                scope: self.namespace.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

/// A config publication outcome message could not be published.
pub struct OutcomeNotSent<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The config hash it reports on.
    pub hash: &'a str,
    /// Why.
    pub error: &'a PublicationError,
}

impl Emit for OutcomeNotSent<'_> {
    fn emit(&self, metrics: &Metrics) {
        let error = self.error;
        tracing::warn!(namespace = self.namespace, config_hash = self.hash, %error, "config outcome not published");
        count(&metrics.outcome_failures, self.namespace);
    }
}

/// The Lease of a gateway replica gone for an hour was deleted.
pub struct GatewayLeaseRemoved<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The Lease.
    pub lease: &'a str,
}

impl Emit for GatewayLeaseRemoved<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(
            namespace = self.namespace,
            lease = self.lease,
            "removed the Lease of a gateway replica gone for an hour"
        );
        count(&metrics.gateway_leases_removed, self.namespace);
    }
}

/// The Lease of a gone gateway replica could not be deleted (retried next reconcile).
pub struct GatewayLeaseNotRemoved<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The Lease.
    pub lease: &'a str,
    /// The API error.
    pub error: &'a kube::Error,
}

impl Emit for GatewayLeaseNotRemoved<'_> {
    fn emit(&self, metrics: &Metrics) {
        let error = self.error;
        tracing::debug!(namespace = self.namespace, lease = self.lease, %error, "gone gateway Lease not removed");
        count(&metrics.gateway_lease_removal_failures, self.namespace);
    }
}

/// A watch failed; kube-runtime retries it with backoff.
pub struct WatchFailed<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The kind watched.
    pub resource: &'a str,
    /// The watcher's error.
    pub error: &'a kube::runtime::watcher::Error,
}

impl Emit for WatchFailed<'_> {
    fn emit(&self, metrics: &Metrics) {
        let error = self.error;
        tracing::warn!(namespace = self.namespace, resource = self.resource, %error, "watch failed; retrying with backoff");
        metrics
            .watch_errors
            .get_or_create(&WatchLabels {
                scope: self.namespace.to_string(),
                resource: self.resource.to_string(),
            })
            .inc();
    }
}

/// This replica became the leader: it writes from now on.
pub struct LeadershipAcquired<'a> {
    /// This replica.
    pub identity: &'a str,
}

impl Emit for LeadershipAcquired<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(identity = self.identity, "leadership acquired");
        metrics.leader.set(1);
    }
}

/// This replica is not (or no longer) the leader: it only keeps its caches warm.
pub struct LeadershipLost<'a> {
    /// This replica.
    pub identity: &'a str,
}

impl Emit for LeadershipLost<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(identity = self.identity, "not the leader");
        metrics.leader.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_compiler::compile::Kind;

    #[test]
    fn events_count_under_the_operator_prefix_with_the_scope_label() {
        let metrics = Metrics::new();
        ReconcileDone {
            namespace: "shop",
            hash: "sha256:1",
        }
        .emit(&metrics);
        ConfigEncoded {
            namespace: "shop",
            json_bytes: 1234,
            stored_bytes: 1234,
        }
        .emit(&metrics);
        ConfigWritten {
            namespace: "shop",
            hash: "sha256:1",
            encoding: "json",
            bytes: 1234,
            diagnostics: 0,
            since_change: Some(Duration::from_millis(150)),
        }
        .emit(&metrics);
        LeadershipAcquired { identity: "op-a" }.emit(&metrics);
        let text = metrics.render();
        for line in [
            "hermes_operator_reconciles_total{scope=\"shop\"} 1",
            "hermes_operator_config_json_bytes{scope=\"shop\"} 1234",
            "hermes_operator_configs_written_total{scope=\"shop\"} 1",
            "hermes_operator_config_publication_seconds_count 1",
            "hermes_operator_leader 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    #[test]
    fn a_failed_reconcile_counts_as_run_and_as_an_error_of_its_step() {
        let metrics = Metrics::new();
        let error = ReconcileError::PatchStatus {
            object: ObjectKey {
                kind: Kind::Trigger,
                name: "purchase".into(),
            },
            source: kube::Error::Api(
                kube::core::Status::failure("conflict", "Conflict")
                    .with_code(409)
                    .boxed(),
            ),
        };
        ReconcileFailed {
            namespace: "shop",
            error: &error,
            retry_in: Some(Duration::from_millis(500)),
        }
        .emit(&metrics);
        let text = metrics.render();
        assert!(
            text.contains("hermes_operator_reconciles_total{scope=\"shop\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "hermes_operator_reconcile_errors_total{scope=\"shop\",step=\"sync_statuses\",kind=\"transient\"} 1"
            ),
            "{text}"
        );
    }
}
