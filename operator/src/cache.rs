//! One namespace's view of the cluster: reflector stores (kube-runtime watchers with
//! backoff) for its Tags, Triggers, LookupTables, ConfigMaps and gateway Leases, and a
//! [`ChangeSignal`] raised whenever something that can change the namespace's config or
//! statuses changed.
//!
//! Why stores plus one signal per namespace rather than a kube-runtime `Controller` per
//! kind: the unit of work is the namespace, not the object: one compile covers every
//! object, and the config is one write. Per-object controllers would compile the
//! namespace once per object changed, and run those compiles concurrently for the same
//! ConfigMap. Here a burst of changes (a `kubectl apply -f examples/`) raises one signal,
//! and one worker per namespace reconciles it serially. Changes that cannot matter are filtered out: status
//! writes (no generation change), gateway Lease renewals that report the same hash, and
//! ConfigMaps no LookupTable names (but for the config's own shards being deleted).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use hermes_compiler::compile::{self, Resources};
use hermes_compiler::contract::{self, GatewayReport};
use hermes_crds::api::{LookupTable, Tag, Trigger};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::events::{Emit, WatchFailed};
use crate::metrics::Metrics;

/// Raised when a namespace needs a reconcile; remembers when the first unhandled change came.
#[derive(Default)]
pub struct ChangeSignal {
    notify: Notify,
    since: Mutex<Option<Instant>>,
}

impl ChangeSignal {
    /// Mark the namespace changed.
    pub fn raise(&self) {
        if let Ok(mut since) = self.since.lock() {
            since.get_or_insert_with(Instant::now);
        }
        self.notify.notify_one();
    }

    /// Whether a change arrived that no reconcile has taken yet.
    pub fn is_raised(&self) -> bool {
        self.since
            .lock()
            .map(|since| since.is_some())
            .unwrap_or(false)
    }

    /// Wait until raised (returns at once if raised since the last wait).
    pub async fn raised(&self) {
        self.notify.notified().await;
    }

    /// Clear the mark; returns when the first unhandled change came.
    pub fn take(&self) -> Option<Instant> {
        self.since.lock().ok().and_then(|mut since| since.take())
    }
}

/// Whether this operator sees the gateway Leases as they are, as their watch finds: lost
/// at a watch error, restored at the next event it delivers (after its relist). Errors
/// within a minute of a restore continue the same outage (an API server coming back
/// often fails a few more requests: RBAC cache warming, expired resource versions).
///
/// Why: gateway replicas cannot renew their reports while the API server is down, so
/// reports expire during an outage although the gateways serve on. Judging them by the
/// wall clock right after the API server returns would mark every object
/// `AwaitingGateway` until each replica renews, then `Ready` again: a flap of every
/// status. Instead reports are judged as of the moment contact was lost, until one lease
/// duration after it came back (time enough for every live replica to renew).
#[derive(Debug, Default)]
pub struct ApiContact {
    state: Mutex<Contact>,
}

/// Errors this soon after a restore belong to the same outage.
const OUTAGE_MERGE: k8s_openapi::jiff::SignedDuration =
    k8s_openapi::jiff::SignedDuration::from_secs(60);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Contact {
    /// Set while contact is lost: since when.
    lost_at: Option<Timestamp>,
    /// The last outage: (lost at, restored at).
    last_outage: Option<(Timestamp, Timestamp)>,
}

/// When to judge gateway reports, per [`ApiContact`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// Judge freshness at this time (now, or when contact was lost).
    pub at: Timestamp,
    /// When judging at `now` resumes (`None`: it does already, or contact is still lost
    /// and the watch's return raises the change signal).
    pub until: Option<Timestamp>,
}

impl ApiContact {
    /// The watch failed at `now`.
    pub fn lost(&self, now: Timestamp) {
        if let Ok(mut contact) = self.state.lock() {
            let began = match contact.last_outage {
                Some((lost_at, restored_at)) if now.duration_since(restored_at) < OUTAGE_MERGE => {
                    lost_at
                }
                _ => now,
            };
            contact.lost_at.get_or_insert(began);
        }
    }

    /// The watch delivered an event at `now`.
    pub fn seen(&self, now: Timestamp) {
        if let Ok(mut contact) = self.state.lock()
            && let Some(lost_at) = contact.lost_at.take()
        {
            contact.last_outage = Some((lost_at, now));
        }
    }

    /// When to judge reports lasting `grace` at `now`.
    pub fn judgement(&self, now: Timestamp, grace: k8s_openapi::jiff::SignedDuration) -> Judgement {
        let contact = self.state.lock().map(|c| *c).unwrap_or_default();
        if let Some(lost_at) = contact.lost_at {
            return Judgement {
                at: lost_at.min(now),
                until: None,
            };
        }
        match contact.last_outage {
            Some((lost_at, restored_at)) => match restored_at.checked_add(grace) {
                Ok(until) if until > now => Judgement {
                    at: lost_at.min(now),
                    until: Some(until),
                },
                _ => Judgement {
                    at: now,
                    until: None,
                },
            },
            None => Judgement {
                at: now,
                until: None,
            },
        }
    }
}

/// The stores of one namespace. Watchers stop when this is dropped.
pub struct NamespaceCache {
    /// The namespace.
    pub namespace: String,
    /// The config ConfigMap's name.
    pub config_map: String,
    /// Raised on relevant changes.
    pub signal: Arc<ChangeSignal>,
    /// Whether the gateway Lease watch reaches the API server.
    pub contact: Arc<ApiContact>,
    tags: Store<Tag>,
    triggers: Store<Trigger>,
    tables: Store<LookupTable>,
    config_maps: Store<ConfigMap>,
    leases: Store<Lease>,
    /// The watch tasks; dropping the set aborts them.
    watches: JoinSet<()>,
}

/// The write ends of a [`NamespaceCache`]'s stores: the watchers' in operation, a test's
/// in unit tests.
pub(crate) struct StoreWriters {
    pub(crate) tags: Writer<Tag>,
    pub(crate) triggers: Writer<Trigger>,
    pub(crate) tables: Writer<LookupTable>,
    pub(crate) config_maps: Writer<ConfigMap>,
    pub(crate) leases: Writer<Lease>,
}

impl NamespaceCache {
    /// Start watching `namespace`.
    pub fn start(
        client: &Client,
        namespace: &str,
        config_map: &str,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (mut cache, writers) = Self::unwatched(namespace, config_map);
        let referenced = {
            let tables = cache.tables.clone();
            let own = config_map.to_string();
            move |name: &str| {
                name == own
                    || name == compile::SETTINGS_CONFIG_MAP
                    || names_config_map(&tables, name)
            }
        };
        let own_config = config_map.to_string();
        let watch = Watch {
            client,
            namespace,
            signal: &cache.signal,
            contact: None,
            metrics: &metrics,
        };
        let lease_watch = Watch {
            contact: Some(&cache.contact),
            ..watch
        };
        let all = watcher::Config::default;
        let watches = &mut cache.watches;
        watches.spawn(watch.run(all(), writers.tags, GenerationFilter::default().into_fn()));
        watches.spawn(watch.run(
            all(),
            writers.triggers,
            GenerationFilter::default().into_fn(),
        ));
        watches.spawn(watch.run(all(), writers.tables, GenerationFilter::default().into_fn()));
        watches.spawn(watch.run(
            all(),
            writers.config_maps,
            move |event: &watcher::Event<ConfigMap>| match event {
                watcher::Event::Apply(cm) => referenced(&cm.name_any()),
                // A shard deleted under the config: write it again.
                watcher::Event::Delete(cm) => {
                    referenced(&cm.name_any()) || contract::is_shard_of(cm, &own_config)
                }
                watcher::Event::InitDone => true,
                _ => false,
            },
        ));
        watches.spawn(lease_watch.run(
            all().labels(contract::GATEWAY_LABEL_SELECTOR),
            writers.leases,
            LeaseFilter::default().into_fn(),
        ));
        cache
    }

    /// A cache with no watchers, and the write ends of its stores.
    pub(crate) fn unwatched(namespace: &str, config_map: &str) -> (Self, StoreWriters) {
        let (tags, tags_writer) = reflector::store();
        let (triggers, triggers_writer) = reflector::store();
        let (tables, tables_writer) = reflector::store();
        let (config_maps, config_maps_writer) = reflector::store();
        let (leases, leases_writer) = reflector::store();
        let cache = NamespaceCache {
            namespace: namespace.to_string(),
            config_map: config_map.to_string(),
            signal: Arc::new(ChangeSignal::default()),
            contact: Arc::new(ApiContact::default()),
            tags,
            triggers,
            tables,
            config_maps,
            leases,
            watches: JoinSet::new(),
        };
        let writers = StoreWriters {
            tags: tags_writer,
            triggers: triggers_writer,
            tables: tables_writer,
            config_maps: config_maps_writer,
            leases: leases_writer,
        };
        (cache, writers)
    }

    /// Wait until every store has listed once (compiling earlier would write a config
    /// missing objects).
    pub async fn wait_until_ready(&self) {
        let _ = self.tags.wait_until_ready().await;
        let _ = self.triggers.wait_until_ready().await;
        let _ = self.tables.wait_until_ready().await;
        let _ = self.config_maps.wait_until_ready().await;
        let _ = self.leases.wait_until_ready().await;
    }

    /// The namespace's resources for the compiler: every Tag, Trigger and LookupTable, and
    /// the data of each ConfigMap a LookupTable source names and of the namespace's
    /// settings ConfigMap (the project of bare topic names).
    pub fn resources(&self) -> Resources {
        let tables: Vec<LookupTable> = self.tables.state().iter().map(|t| (**t).clone()).collect();
        let mut resources = Resources {
            tags: self.tags.state().iter().map(|t| (**t).clone()).collect(),
            triggers: self
                .triggers
                .state()
                .iter()
                .map(|t| (**t).clone())
                .collect(),
            lookup_tables: Vec::new(),
            config_maps: Default::default(),
        };
        if let Some(settings) = self.config_map_named(compile::SETTINGS_CONFIG_MAP) {
            resources.config_maps.insert(
                compile::SETTINGS_CONFIG_MAP.to_string(),
                settings.data.clone().unwrap_or_default(),
            );
        }
        for table in &tables {
            let Some(source) = &table.spec.source else {
                continue;
            };
            let name = &source.config_map_key_ref.name;
            if let Some(cm) = self.config_map_named(name) {
                resources
                    .config_maps
                    .insert(name.clone(), cm.data.clone().unwrap_or_default());
            }
        }
        resources.lookup_tables = tables;
        resources
    }

    /// The namespace's LookupTables, as watched (the lookup feeds find theirs here).
    pub fn lookup_tables(&self) -> Store<LookupTable> {
        self.tables.clone()
    }

    /// A ConfigMap of the namespace.
    pub fn config_map_named(&self, name: &str) -> Option<Arc<ConfigMap>> {
        self.config_maps
            .get(&ObjectRef::new(name).within(&self.namespace))
    }

    /// Every ConfigMap of the namespace (the config, its shards, lookup sources, ...).
    pub fn config_maps(&self) -> Vec<Arc<ConfigMap>> {
        self.config_maps.state()
    }

    /// Gateway Leases by name, with their reports.
    pub fn gateway_leases(&self) -> Vec<(String, GatewayReport)> {
        self.leases
            .state()
            .iter()
            .filter_map(|lease| GatewayReport::from_lease(lease).map(|r| (lease.name_any(), r)))
            .collect()
    }
}

fn names_config_map(tables: &Store<LookupTable>, name: &str) -> bool {
    tables
        .find(|t| {
            t.spec
                .source
                .as_ref()
                .is_some_and(|s| s.config_map_key_ref.name == name)
        })
        .is_some()
}

/// What every watch of a namespace shares.
#[derive(Clone, Copy)]
struct Watch<'a> {
    client: &'a Client,
    namespace: &'a str,
    signal: &'a Arc<ChangeSignal>,
    /// Told of this watch's errors and events, if it judges contact.
    contact: Option<&'a Arc<ApiContact>>,
    metrics: &'a Arc<Metrics>,
}

impl Watch<'_> {
    /// Watch one kind into its store, raising the signal on relevant events.
    fn run<K>(
        self,
        config: watcher::Config,
        writer: Writer<K>,
        mut relevant: impl FnMut(&watcher::Event<K>) -> bool + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let api = Api::<K>::namespaced(self.client.clone(), self.namespace);
        let namespace = self.namespace.to_string();
        let signal = self.signal.clone();
        let contact = self.contact.cloned();
        let metrics = self.metrics.clone();
        async move {
            let resource = K::kind(&()).to_string();
            // managedFields are what most of a small object weighs, and nothing here reads
            // them: the stores (and each reconcile's copy) hold 10,000s of objects.
            let events = watcher(api, config)
                .default_backoff()
                .modify(|object: &mut K| object.managed_fields_mut().clear())
                .reflect(writer);
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        if let Some(contact) = &contact {
                            contact.seen(Timestamp::now());
                        }
                        if relevant(&event) {
                            signal.raise();
                        }
                    }
                    Err(error) => {
                        if let Some(contact) = &contact {
                            contact.lost(Timestamp::now());
                        }
                        WatchFailed {
                            namespace: &namespace,
                            resource: &resource,
                            error: &error,
                        }
                        .emit(&metrics)
                    }
                }
            }
        }
    }
}

/// Passes spec changes (new generation), deletions and relists; drops status-only
/// updates, which the operator itself causes.
#[derive(Default)]
struct GenerationFilter {
    seen: HashMap<String, Option<i64>>,
}

impl GenerationFilter {
    fn relevant<K: Resource>(&mut self, event: &watcher::Event<K>) -> bool {
        match event {
            watcher::Event::Apply(object) => {
                let generation = object.meta().generation;
                self.seen.insert(object.name_any(), generation) != Some(generation)
            }
            watcher::Event::InitApply(object) => {
                self.seen
                    .insert(object.name_any(), object.meta().generation);
                false
            }
            watcher::Event::Delete(object) => {
                self.seen.remove(&object.name_any());
                true
            }
            watcher::Event::Init => {
                self.seen.clear();
                false
            }
            watcher::Event::InitDone => true,
        }
    }

    fn into_fn<K: Resource>(mut self) -> impl FnMut(&watcher::Event<K>) -> bool + Send + 'static {
        move |event| self.relevant(event)
    }
}

/// Passes gateway Lease changes that can change a verdict: a new replica, a different
/// hash, refusal or set of failing topics, a replica coming back after its report expired, a deletion.
/// Plain renewals pass silently; expiries are found by the reconcile's recheck timer.
#[derive(Default)]
struct LeaseFilter {
    seen: HashMap<String, GatewayReport>,
}

impl LeaseFilter {
    fn relevant(&mut self, event: &watcher::Event<Lease>) -> bool {
        match event {
            watcher::Event::Apply(lease) | watcher::Event::InitApply(lease) => {
                let Some(report) = GatewayReport::from_lease(lease) else {
                    return false;
                };
                let renewed = report.renew_time.unwrap_or_else(Timestamp::now);
                let changed = match self.seen.get(&lease.name_any()) {
                    None => true,
                    Some(before) => {
                        before.hash != report.hash
                            || before.error != report.error
                            || before.failing_topics != report.failing_topics
                            || before.replica != report.replica
                            || !before.is_fresh(renewed)
                    }
                };
                self.seen.insert(lease.name_any(), report);
                changed && matches!(event, watcher::Event::Apply(_))
            }
            watcher::Event::Delete(lease) => {
                self.seen.remove(&lease.name_any());
                true
            }
            watcher::Event::Init => {
                self.seen.clear();
                false
            }
            watcher::Event::InitDone => true,
        }
    }

    fn into_fn(mut self) -> impl FnMut(&watcher::Event<Lease>) -> bool + Send + 'static {
        move |event| self.relevant(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_crds::api::TagSpec;
    use k8s_openapi::jiff::SignedDuration;

    fn tag(generation: i64) -> Tag {
        let mut tag = Tag::new("t", TagSpec::default());
        tag.metadata.generation = Some(generation);
        tag
    }

    #[test]
    fn status_only_updates_do_not_raise_but_spec_changes_and_deletes_do() {
        let mut filter = GenerationFilter::default();
        assert!(filter.relevant(&watcher::Event::Apply(tag(1))));
        assert!(!filter.relevant(&watcher::Event::Apply(tag(1))));
        assert!(filter.relevant(&watcher::Event::Apply(tag(2))));
        assert!(filter.relevant(&watcher::Event::Delete(tag(2))));
        assert!(!filter.relevant(&watcher::Event::InitApply(tag(3))));
        assert!(filter.relevant(&watcher::Event::<Tag>::InitDone));
    }

    fn lease(hash: &str, renewed: Timestamp) -> Lease {
        GatewayReport {
            replica: "gw-0".into(),
            hash: Some(hash.into()),
            error: None,
            renew_time: Some(renewed),
            duration: SignedDuration::from_secs(10),
            failing_topics: Vec::new(),
        }
        .to_lease("shop")
    }

    #[test]
    fn reports_are_judged_as_of_a_lost_contact_until_a_lease_duration_after_it_returns() {
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let at = |s: i64| t0 + SignedDuration::from_secs(s);
        let grace = SignedDuration::from_secs(10);
        let contact = ApiContact::default();
        let judged = contact.judgement(at(0), grace);
        assert_eq!((judged.at, judged.until), (at(0), None));
        contact.lost(at(1));
        contact.lost(at(5));
        let during = contact.judgement(at(30), grace);
        assert_eq!((during.at, during.until), (at(1), None));
        contact.seen(at(40));
        let after = contact.judgement(at(45), grace);
        assert_eq!((after.at, after.until), (at(1), Some(at(50))));
        let later = contact.judgement(at(50), grace);
        assert_eq!((later.at, later.until), (at(50), None));
        // Another error soon after the restore continues the same outage.
        contact.lost(at(55));
        contact.seen(at(56));
        let merged = contact.judgement(at(60), grace);
        assert_eq!((merged.at, merged.until), (at(1), Some(at(66))));
        // Much later, a new one.
        contact.lost(at(200));
        contact.seen(at(201));
        assert_eq!(contact.judgement(at(202), grace).at, at(200));
    }

    #[test]
    fn a_change_of_the_failing_topics_raises() {
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let mut filter = LeaseFilter::default();
        assert!(filter.relevant(&watcher::Event::Apply(lease("h1", t0))));
        let mut failing = GatewayReport::from_lease(&lease("h1", t0)).unwrap();
        failing.failing_topics = vec![contract::FailingTopic {
            topic: "projects/p/topics/x".into(),
            reason: "TopicNotFound".into(),
            error: "not found".into(),
            since: "2026-12-01T10:00:00Z".into(),
        }];
        assert!(filter.relevant(&watcher::Event::Apply(failing.to_lease("shop"))));
        assert!(!filter.relevant(&watcher::Event::Apply(failing.to_lease("shop"))));
    }

    #[test]
    fn lease_renewals_are_silent_but_new_hashes_and_returns_after_expiry_raise() {
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let at = |s: i64| t0 + SignedDuration::from_secs(s);
        let mut filter = LeaseFilter::default();
        assert!(filter.relevant(&watcher::Event::Apply(lease("h1", at(0)))));
        assert!(!filter.relevant(&watcher::Event::Apply(lease("h1", at(3)))));
        assert!(filter.relevant(&watcher::Event::Apply(lease("h2", at(6)))));
        // Silent for 20 s (expired at 16 s), then renewed: the replica is back.
        assert!(filter.relevant(&watcher::Event::Apply(lease("h2", at(26)))));
        assert!(filter.relevant(&watcher::Event::Delete(lease("h2", at(26)))));
    }
}
