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
use crate::lookup_feed::apply::ApplyError;
use crate::metrics::{
    ErrorLabels, FeedLabels, FeedTableLabels, Metrics, OutcomeLabels, ScopeLabels, WatchLabels,
};
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
    /// ConfigMaps it takes (1 unless sharded).
    pub config_maps: usize,
}

impl Emit for ConfigEncoded<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::debug!(
            namespace = self.namespace,
            json_bytes = self.json_bytes,
            stored_bytes = self.stored_bytes,
            config_maps = self.config_maps,
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
        metrics
            .config_shards
            .get_or_create(&labels)
            .set(bytes(self.config_maps));
    }
}

/// A namespace's resources were compiled and encoded (the compile step).
pub struct ScopeCompiled<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// Tags, Triggers and LookupTables compiled.
    pub objects: usize,
    /// How long it took.
    pub elapsed: Duration,
}

impl Emit for ScopeCompiled<'_> {
    fn emit(&self, metrics: &Metrics) {
        let seconds = self.elapsed.as_secs_f64();
        tracing::debug!(
            namespace = self.namespace,
            objects = self.objects,
            seconds,
            "compiled"
        );
        metrics.compile_seconds.observe(seconds);
    }
}

/// A shard ConfigMap of a config no longer in the config ConfigMap was deleted.
pub struct StaleShardRemoved<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The shard ConfigMap.
    pub shard: &'a str,
}

impl Emit for StaleShardRemoved<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::debug!(
            namespace = self.namespace,
            shard = self.shard,
            "removed a stale config shard"
        );
        count(&metrics.stale_shards_removed, self.namespace);
    }
}

/// A stale shard ConfigMap could not be deleted (retried next reconcile).
pub struct StaleShardNotRemoved<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The shard ConfigMap.
    pub shard: &'a str,
    /// The API error.
    pub error: &'a kube::Error,
}

impl Emit for StaleShardNotRemoved<'_> {
    fn emit(&self, metrics: &Metrics) {
        let error = self.error;
        tracing::warn!(namespace = self.namespace, shard = self.shard, %error, "stale config shard not removed; retrying next reconcile");
        count(&metrics.stale_shard_removal_failures, self.namespace);
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

/// Pub/Sub answered whether a Tag's topic exists (or could not be asked).
pub struct TopicChecked<'a> {
    /// The namespace whose Tags publish there.
    pub namespace: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The answer.
    pub state: &'a crate::topic_check::TopicState,
}

impl Emit for TopicChecked<'_> {
    fn emit(&self, metrics: &Metrics) {
        use crate::topic_check::TopicState;
        let (namespace, topic) = (self.namespace, self.topic);
        match self.state {
            TopicState::Exists => tracing::debug!(namespace, topic, "topic exists"),
            TopicState::Missing => tracing::warn!(
                namespace,
                topic,
                "topic does not exist: its Tags are TopicNotFound"
            ),
            TopicState::Unknown { why, error } => tracing::warn!(
                namespace,
                topic,
                why,
                %error,
                "topic check skipped (needs roles/pubsub.viewer on the topic and Pub/Sub reachable); \
                 its Tags are not held back"
            ),
        }
        metrics
            .topic_checks
            .get_or_create(&OutcomeLabels {
                scope: namespace.to_string(),
                outcome: self.state.outcome().to_string(),
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

/// A step of the leader election (reading, taking or renewing the Lease) failed; it is
/// retried after `retry_in`.
pub struct LeaderElectionFailed<'a> {
    /// The election's error.
    pub error: &'a kube_lease_manager::LeaseManagerError,
    /// When it is tried again.
    pub retry_in: Duration,
}

impl Emit for LeaderElectionFailed<'_> {
    fn emit(&self, metrics: &Metrics) {
        let (error, retry_in) = (self.error, self.retry_in);
        tracing::warn!(%error, ?retry_in, "leader election step failed; retrying");
        metrics.leader_election_errors.inc();
    }
}

/// Count one lookup feed message of `table` settled with `outcome`.
fn count_feed(metrics: &Metrics, namespace: &str, table: &str, outcome: &str, reason: &str) {
    metrics
        .feed_messages
        .get_or_create(&FeedLabels {
            scope: namespace.to_string(),
            table: table.to_string(),
            outcome: outcome.to_string(),
            reason: reason.to_string(),
        })
        .inc();
}

fn feed_table(namespace: &str, table: &str) -> FeedTableLabels {
    FeedTableLabels {
        scope: namespace.to_string(),
        table: table.to_string(),
    }
}

/// The leader started receiving a LookupTable's feed.
pub struct FeedStarted<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// Its subscription.
    pub subscription: &'a str,
}

impl Emit for FeedStarted<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(
            namespace = self.namespace,
            table = self.table,
            subscription = self.subscription,
            "lookup feed started"
        );
        metrics.feeds_running.inc();
    }
}

/// A LookupTable's feed stopped (leadership lost, table deleted or its feed changed).
pub struct FeedStopped<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// Its subscription.
    pub subscription: &'a str,
}

impl Emit for FeedStopped<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(
            namespace = self.namespace,
            table = self.table,
            subscription = self.subscription,
            "lookup feed stopped"
        );
        metrics.feeds_running.dec();
    }
}

/// The Pub/Sub subscriber client could not be built; retried at the next scan.
pub struct SubscriberNotBuilt<'a> {
    /// Why.
    pub error: &'a google_cloud_gax::client_builder::Error,
}

impl Emit for SubscriberNotBuilt<'_> {
    fn emit(&self, _metrics: &Metrics) {
        let error = self.error;
        tracing::error!(%error, "Pub/Sub subscriber cannot be built; lookup feeds wait");
    }
}

/// A feed message's rows were stored.
pub struct FeedMessageApplied<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// The Pub/Sub message id.
    pub message_id: &'a str,
    /// Rows the table has now.
    pub rows: usize,
}

impl Emit for FeedMessageApplied<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(
            namespace = self.namespace,
            table = self.table,
            message_id = self.message_id,
            rows = self.rows,
            "lookup feed message applied"
        );
        count_feed(metrics, self.namespace, self.table, "applied", "");
    }
}

/// A feed message was skipped: the table has an equal or newer version.
pub struct FeedMessageStale<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// The Pub/Sub message id.
    pub message_id: &'a str,
    /// The message's version.
    pub version: i64,
    /// The table's.
    pub applied: i64,
}

impl Emit for FeedMessageStale<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::info!(
            namespace = self.namespace,
            table = self.table,
            message_id = self.message_id,
            version = self.version,
            applied = self.applied,
            "lookup feed message older than the table; skipped"
        );
        count_feed(metrics, self.namespace, self.table, "stale", "");
    }
}

/// A feed message cannot be applied: acknowledged and reported, the rows unchanged.
pub struct FeedMessageRejected<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// The Pub/Sub message id.
    pub message_id: &'a str,
    /// Why.
    pub error: &'a ApplyError,
}

impl Emit for FeedMessageRejected<'_> {
    fn emit(&self, metrics: &Metrics) {
        let (error, reason) = (self.error, self.error.reason());
        tracing::warn!(namespace = self.namespace, table = self.table, message_id = self.message_id, reason, %error, "lookup feed message rejected");
        count_feed(metrics, self.namespace, self.table, "rejected", reason);
    }
}

/// A feed message hit a transient failure: applied again after a backoff (it stays leased).
pub struct FeedMessageRetried<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// The Pub/Sub message id.
    pub message_id: &'a str,
    /// Why.
    pub error: &'a ApplyError,
}

impl Emit for FeedMessageRetried<'_> {
    fn emit(&self, metrics: &Metrics) {
        let (error, reason) = (self.error, self.error.reason());
        tracing::warn!(namespace = self.namespace, table = self.table, message_id = self.message_id, reason, %error, "lookup feed message not applied; retrying");
        count_feed(metrics, self.namespace, self.table, "retried", reason);
    }
}

/// A feed's subscription stream failed; reopened after `retry_in`.
pub struct FeedStreamFailed<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// Its subscription.
    pub subscription: &'a str,
    /// Why.
    pub error: &'a str,
    /// When it is reopened.
    pub retry_in: Duration,
}

impl Emit for FeedStreamFailed<'_> {
    fn emit(&self, metrics: &Metrics) {
        tracing::warn!(namespace = self.namespace, table = self.table, subscription = self.subscription, error = self.error, retry_in = ?self.retry_in, "lookup feed subscription failed; reopening");
        metrics
            .feed_stream_errors
            .get_or_create(&feed_table(self.namespace, self.table))
            .inc();
    }
}

/// A feed's status or Event could not be written (the rows are unaffected).
pub struct FeedReportFailed<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The LookupTable.
    pub table: &'a str,
    /// Why.
    pub error: &'a kube::Error,
}

impl Emit for FeedReportFailed<'_> {
    fn emit(&self, metrics: &Metrics) {
        let error = self.error;
        tracing::warn!(namespace = self.namespace, table = self.table, %error, "lookup feed status or Event not written");
        metrics
            .feed_report_errors
            .get_or_create(&feed_table(self.namespace, self.table))
            .inc();
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
            config_maps: 3,
        }
        .emit(&metrics);
        ScopeCompiled {
            namespace: "shop",
            objects: 20,
            elapsed: Duration::from_millis(12),
        }
        .emit(&metrics);
        StaleShardRemoved {
            namespace: "shop",
            shard: "hermes-gateway-config-0123456789ab-0",
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
            "hermes_operator_config_shards{scope=\"shop\"} 3",
            "hermes_operator_compile_seconds_count 1",
            "hermes_operator_stale_shards_removed_total{scope=\"shop\"} 1",
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
