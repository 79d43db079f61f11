//! Cluster mode: watch the config ConfigMap the operator writes (and, for a config too
//! large for one ConfigMap, its shards), swap each new config in once complete, and report
//! what this replica serves through its own Lease.
//!
//! Why a Lease per replica: the operator must know which config every live replica
//! serves before it calls an object `Ready`. A `coordination.k8s.io` Lease is the
//! Kubernetes heartbeat object (nodes report liveness the same way): it carries a holder,
//! a renew time and a duration, so "fresh" is `renewTime + leaseDurationSeconds > now`
//! and a replica that dies simply stops counting, without any cleanup. One Lease per
//! replica means no write conflicts between replicas; the hash rides in an annotation.
//! The alternatives are worse here: the operator polling each pod's HTTP endpoint needs
//! pod discovery and network reachability (and fails for gateways run as local
//! processes), and replicas writing into one shared status object would contend.
//!
//! The same Lease carries the topics this replica cannot publish to (missing, forbidden),
//! so that the operator can mark the Tags publishing there `Delivering=False`. It is
//! written at once when that set changes (a topic starts failing, changes reason, heals),
//! otherwise with the regular renewals: no extra writes while nothing changes.
//!
//! Nothing here is fatal: watch errors back off and retry, report errors are logged and
//! retried at the next renewal, and the last good config keeps serving throughout.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, stream};
use hermes_compiler::contract::{self, GatewayReport};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::{Notify, watch};

use super::ConfigSink;
use crate::publish::FailingTopic;

/// The publisher's failing topics, by full name, as it updates them.
pub type FailingTopicsWatch = watch::Receiver<BTreeMap<String, FailingTopic>>;

/// Where this replica finds its config and how it reports.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The scope's namespace (config ConfigMap and Leases live there).
    pub namespace: String,
    /// The config ConfigMap's name ([`contract::DEFAULT_CONFIG_MAP`] by default).
    pub config_map: String,
    /// This replica's id, unique among replicas (the pod name).
    pub replica_id: String,
    /// How long a report stays valid; renewed every third of it.
    pub lease_duration: Duration,
    /// The publisher's failing topics, reported in the Lease (`None`: never any).
    pub failing_topics: Option<FailingTopicsWatch>,
}

impl ClusterOptions {
    /// Options with the default ConfigMap name and a 10 s lease.
    pub fn new(namespace: impl Into<String>, replica_id: impl Into<String>) -> Self {
        ClusterOptions {
            namespace: namespace.into(),
            config_map: contract::DEFAULT_CONFIG_MAP.to_string(),
            replica_id: replica_id.into(),
            lease_duration: Duration::from_secs(10),
            failing_topics: None,
        }
    }
}

/// Watch the config and report it until the returned future is dropped. Never returns
/// on its own; errors are logged and retried.
pub async fn run(client: Client, options: ClusterOptions, sink: Arc<dyn ConfigSink>) {
    let replica = Replica {
        client,
        options,
        sink,
        state: ReportState::default(),
    };
    tokio::join!(replica.watch_config(), replica.report());
}

/// Delete this replica's Lease, so that the operator stops waiting for it at once
/// (call on graceful shutdown; a replica that just dies expires instead).
pub async fn retire(client: Client, options: &ClusterOptions) -> Result<(), kube::Error> {
    let leases: Api<Lease> = Api::namespaced(client, &options.namespace);
    let name = contract::gateway_lease_name(&options.replica_id);
    match leases.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

/// What the reporter needs besides the sink: the latest refusal, and a nudge after each
/// load attempt so the Lease is renewed at once.
#[derive(Default)]
struct ReportState {
    error: Mutex<Option<String>>,
    changed: Notify,
}

impl ReportState {
    fn set_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = error;
        }
        self.changed.notify_one();
    }

    fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|slot| slot.clone())
    }
}

/// What became of one ConfigMap version.
#[derive(Debug, PartialEq, Eq)]
enum Load {
    /// Its hash is already serving.
    Unchanged,
    /// It was swapped in.
    Loaded,
    /// It names shards not all here (yet) with its hash: try again when shards arrive.
    Incomplete,
    /// It was refused: `<hash>: <reason>`; the previous config keeps serving.
    Refused(String),
}

/// Load the config `config_map` holds, reading its shards (if sharded) through `shard`.
fn load<C: Borrow<ConfigMap>>(
    config_map: &ConfigMap,
    shard: impl FnMut(&str) -> Option<C>,
    sink: &dyn ConfigSink,
) -> Load {
    let declared = contract::declared_hash(config_map).map(str::to_string);
    let current = sink.current_hash();
    if declared.is_some() && declared == current {
        return Load::Unchanged;
    }
    let label = declared.unwrap_or_else(|| "unknown".to_string());
    let config = match contract::decode_with_shards(config_map, shard) {
        Ok(config) => config,
        Err(error) if error.is_incomplete() => {
            tracing::debug!(config_hash = %label, %error, "config incomplete; waiting for its shards");
            return Load::Incomplete;
        }
        Err(error) => {
            tracing::warn!(config_hash = %label, %error, "config refused; previous config keeps serving");
            return Load::Refused(format!("{label}: {error}"));
        }
    };
    if Some(&config.hash) == current.as_ref() {
        return Load::Unchanged;
    }
    let hash = config.hash.clone();
    match sink.offer(config) {
        Ok(()) => Load::Loaded,
        Err(error) => Load::Refused(format!("{hash}: {error}")),
    }
}

/// An event of either watch: the config ConfigMap's, or the shards'.
enum Seen {
    Config(Result<watcher::Event<ConfigMap>, watcher::Error>),
    Shard(Result<watcher::Event<ConfigMap>, watcher::Error>),
}

/// One replica's cluster work: its two halves (watch the config, report it) share the
/// client, the options, the sink and the latest refusal.
struct Replica {
    client: Client,
    options: ClusterOptions,
    sink: Arc<dyn ConfigSink>,
    state: ReportState,
}

impl Replica {
    /// Offer each new version of the config ConfigMap to the sink; remember a refusal.
    /// A sharded config whose shards have not all arrived waits for them: each shard event
    /// offers it again, and it swaps in only complete.
    async fn watch_config(&self) {
        let options = &self.options;
        let config_maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), &options.namespace);
        let selector = format!("metadata.name={}", options.config_map);
        let configs = watcher(
            config_maps.clone(),
            watcher::Config::default().fields(&selector),
        )
        .backoff(reconnect_backoff())
        .map(Seen::Config);
        let (shards, writer) = reflector::store();
        let shard_events = reflector(
            writer,
            watcher(
                config_maps,
                watcher::Config::default().labels(contract::CONFIG_SHARD_LABEL_SELECTOR),
            )
            .backoff(reconnect_backoff()),
        )
        .map(Seen::Shard);
        let mut events = std::pin::pin!(stream::select(configs, shard_events));
        let mut waiting: Option<ConfigMap> = None;
        while let Some(seen) = events.next().await {
            match seen {
                Seen::Config(Ok(
                    watcher::Event::Apply(config_map) | watcher::Event::InitApply(config_map),
                )) => waiting = self.offer(config_map, &shards),
                Seen::Shard(Ok(watcher::Event::Apply(_) | watcher::Event::InitDone)) => {
                    if let Some(config_map) = waiting.take() {
                        waiting = self.offer(config_map, &shards);
                    }
                }
                Seen::Config(Ok(watcher::Event::Delete(_))) => tracing::warn!(
                    config_map = %options.config_map,
                    "config ConfigMap deleted; the last config keeps serving"
                ),
                Seen::Config(Ok(_)) | Seen::Shard(Ok(_)) => {}
                Seen::Config(Err(error)) | Seen::Shard(Err(error)) => tracing::warn!(
                    %error,
                    "config watch failed; retrying, the last config keeps serving"
                ),
            }
        }
    }

    /// Offer the config `config_map` holds; hand it back while its shards are incomplete.
    fn offer(&self, config_map: ConfigMap, shards: &Store<ConfigMap>) -> Option<ConfigMap> {
        let namespace = &self.options.namespace;
        let shard = |name: &str| shards.get(&ObjectRef::new(name).within(namespace));
        let state = &self.state;
        match load(&config_map, shard, self.sink.as_ref()) {
            Load::Incomplete => return Some(config_map),
            Load::Unchanged if state.error().is_some() => state.set_error(None),
            Load::Unchanged => {}
            Load::Loaded => state.set_error(None),
            Load::Refused(error) => state.set_error(Some(error)),
        }
        None
    }

    /// Renew this replica's Lease (what it serves, the latest refusal, the failing
    /// topics) every third of the lease duration, at once after each load attempt, and at
    /// once when the failing topics change.
    async fn report(&self) {
        let (options, sink, state) = (&self.options, &self.sink, &self.state);
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), &options.namespace);
        let name = contract::gateway_lease_name(&options.replica_id);
        let params = PatchParams::apply(contract::GATEWAY_FIELD_MANAGER).force();
        let duration = options.lease_duration.max(Duration::from_secs(1));
        let renew_every = duration / 3;
        let mut failing = false;
        let mut failing_topics = options.failing_topics.clone();
        loop {
            let lease = GatewayReport {
                replica: options.replica_id.clone(),
                hash: sink.current_hash(),
                error: state.error(),
                renew_time: Some(Timestamp::now()),
                duration: SignedDuration::from_secs(duration.as_secs().try_into().unwrap_or(10)),
                failing_topics: failing_topics
                    .as_mut()
                    .map(|topics| reported(&topics.borrow_and_update()))
                    .unwrap_or_default(),
            }
            .to_lease(&options.namespace);
            // A renewal that hangs (a black-holed connection) must not hold back the next.
            let patch = Patch::Apply(&lease);
            let renewal =
                tokio::time::timeout(duration, leases.patch(&name, &params, &patch)).await;
            match renewal.unwrap_or_else(|_| Err(renewal_timed_out(duration))) {
                Ok(_) if failing => {
                    tracing::info!(lease = %name, "gateway report renewed again");
                    failing = false;
                }
                Ok(_) => {}
                Err(error) => {
                    if !failing {
                        tracing::warn!(lease = %name, %error, "gateway report failed; retrying");
                    }
                    failing = true;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(renew_every) => {}
                _ = state.changed.notified() => {}
                Some(()) = topics_changed(failing_topics.as_mut()) => {}
            }
        }
    }
}

/// Resolves with `Some` when the failing topics change; `None` at once when there is
/// nothing to follow (no publisher report, or its sender is gone): the select ignores it.
async fn topics_changed(topics: Option<&mut FailingTopicsWatch>) -> Option<()> {
    topics?.changed().await.ok()
}

/// The failing topics as the contract reports them.
fn reported(topics: &BTreeMap<String, FailingTopic>) -> Vec<contract::FailingTopic> {
    topics
        .iter()
        .map(|(topic, failing)| contract::FailingTopic {
            topic: topic.clone(),
            reason: failing.reason.to_string(),
            error: failing.error.clone(),
            since: Timestamp::try_from(failing.since)
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default(),
        })
        .collect()
}

fn renewal_timed_out(after: Duration) -> kube::Error {
    kube::Error::Service(format!("renewal did not complete within {after:?}").into())
}

/// Reconnect quickly after an outage (kube's default waits up to 30 s): 200 ms doubling
/// to 5 s, reset by the first event that arrives.
fn reconnect_backoff() -> watcher::ExponentialBackoff {
    backon::ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .without_max_times()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_source::ConfigLoadError;
    use hermes_compiler::config::GatewayConfig;

    /// Accepts every config unless told to refuse; remembers what it serves.
    #[derive(Default)]
    struct FakeSink {
        serving: Mutex<Option<String>>,
        offers: Mutex<usize>,
        refuse: bool,
    }

    impl ConfigSink for FakeSink {
        fn offer(&self, config: GatewayConfig) -> Result<(), ConfigLoadError> {
            *self.offers.lock().unwrap() += 1;
            if self.refuse {
                return Err(ConfigLoadError::Prepare("regex too big".into()));
            }
            *self.serving.lock().unwrap() = Some(config.hash);
            Ok(())
        }

        fn current_hash(&self) -> Option<String> {
            self.serving.lock().unwrap().clone()
        }
    }

    fn no_shards(_: &str) -> Option<&'static ConfigMap> {
        None
    }

    fn config_map(scope: &str) -> (ConfigMap, String) {
        let config = GatewayConfig::empty(scope);
        let encoded = contract::encode(&config).unwrap();
        (
            encoded.to_config_map("hermes-gateway-config", "shop"),
            config.hash,
        )
    }

    #[test]
    fn new_config_is_offered_once_and_then_unchanged() {
        let sink = FakeSink::default();
        let (cm, hash) = config_map("shop");
        assert_eq!(load(&cm, no_shards, &sink), Load::Loaded);
        assert_eq!(sink.current_hash(), Some(hash));
        assert_eq!(load(&cm, no_shards, &sink), Load::Unchanged);
        assert_eq!(*sink.offers.lock().unwrap(), 1);
    }

    #[test]
    fn corrupt_config_is_refused_naming_its_hash_and_keeps_the_previous() {
        let sink = FakeSink::default();
        let (good, hash) = config_map("shop");
        load(&good, no_shards, &sink);
        let (mut bad, _) = config_map("other");
        bad.data
            .as_mut()
            .unwrap()
            .insert(contract::CONFIG_JSON_KEY.into(), "{".into());
        let Load::Refused(message) = load(&bad, no_shards, &sink) else {
            panic!("corrupt config accepted");
        };
        assert!(message.starts_with("sha256:"), "{message}");
        assert_eq!(sink.current_hash(), Some(hash));
    }

    #[test]
    fn config_the_sink_refuses_is_reported() {
        let sink = FakeSink {
            refuse: true,
            ..FakeSink::default()
        };
        let (cm, hash) = config_map("shop");
        assert_eq!(
            load(&cm, no_shards, &sink),
            Load::Refused(format!("{hash}: config cannot be prepared: regex too big"))
        );
    }

    /// A config whose gzip needs two ConfigMaps: a lookup table of poorly compressible
    /// rows.
    fn sharded(scope: &str) -> (ConfigMap, Vec<ConfigMap>, String) {
        use hermes_compiler::config::{CompiledLookupTable, CompiledRow, CompiledVariable};
        let rows = (0..60_000u64)
            .map(|i| CompiledRow {
                key: format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                value: format!("{:032x}", u128::from(i).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)).into(),
            })
            .collect();
        let mut config = GatewayConfig::empty(scope);
        config.lookup_tables.insert(
            "big".into(),
            CompiledLookupTable {
                generation: Some(1),
                input: CompiledVariable::Constant { value: "x".into() },
                match_type: hermes_crds::api::MatchType::Exact,
                rows,
                default: None,
            },
        );
        config.hash = config.content_hash();
        let encoded = contract::encode(&config).unwrap();
        assert_eq!(encoded.encoding, contract::ConfigEncoding::GzipShards);
        (
            encoded.to_config_map("hermes-gateway-config", "shop"),
            encoded.shard_config_maps("hermes-gateway-config", "shop"),
            config.hash,
        )
    }

    #[test]
    fn sharded_config_waits_for_all_its_shards_then_swaps_in_whole() {
        let sink = FakeSink::default();
        let (index, shards, hash) = sharded("shop");
        let by_name = |present: &[ConfigMap]| {
            let present = present.to_vec();
            move |name: &str| {
                present
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some(name))
                    .cloned()
            }
        };
        assert_eq!(load(&index, by_name(&[]), &sink), Load::Incomplete);
        assert_eq!(load(&index, by_name(&shards[..1]), &sink), Load::Incomplete);
        assert_eq!(*sink.offers.lock().unwrap(), 0);
        assert_eq!(load(&index, by_name(&shards), &sink), Load::Loaded);
        assert_eq!(sink.current_hash(), Some(hash));
    }

    #[test]
    fn failing_topics_are_reported_with_reason_error_and_since() {
        let since = std::time::UNIX_EPOCH + Duration::from_secs(1_796_119_200);
        let topics = BTreeMap::from([(
            "projects/p/topics/missing".to_string(),
            FailingTopic {
                reason: "TopicNotFound",
                error: "Resource not found".into(),
                since,
            },
        )]);
        assert_eq!(
            reported(&topics),
            [contract::FailingTopic {
                topic: "projects/p/topics/missing".into(),
                reason: "TopicNotFound".into(),
                error: "Resource not found".into(),
                since: "2026-12-01T10:00:00Z".into(),
            }]
        );
    }

    #[tokio::test]
    async fn a_change_of_the_failing_topics_wakes_the_reporter_and_nothing_else_does() {
        let (sender, mut receiver) = watch::channel(BTreeMap::new());
        let quiet = tokio::time::timeout(
            Duration::from_millis(50),
            topics_changed(Some(&mut receiver)),
        )
        .await;
        assert!(quiet.is_err(), "woke without a change");
        sender.send_modify(|topics| {
            topics.insert(
                "projects/p/topics/t".to_string(),
                FailingTopic {
                    reason: "PermissionDenied",
                    error: String::new(),
                    since: std::time::SystemTime::now(),
                },
            );
        });
        assert_eq!(topics_changed(Some(&mut receiver)).await, Some(()));
        assert_eq!(topics_changed(None).await, None);
    }

    #[test]
    fn reconnect_backoff_is_capped_and_resets() {
        use kube::runtime::utils::Backoff;

        let mut backoff = reconnect_backoff();
        let delays: Vec<_> = (&mut backoff).take(7).collect();
        assert_eq!(delays[0], Duration::from_millis(200));
        assert_eq!(delays[6], Duration::from_secs(5));
        backoff.reset();
        assert_eq!(backoff.next(), Some(Duration::from_millis(200)));
    }
}
