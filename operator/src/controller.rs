//! The operator's wiring: wait for the CRDs, join the leader election, start one cache and
//! one worker per namespace, serve metrics, and shut down cleanly (workers stopped,
//! leader Lease released).
//!
//! A worker reconciles its namespace when the cache signals a change (debounced), when a
//! gateway report may expire ([`crate::reconcile::reconcile`]'s recheck time), after a
//! transient error (exponential backoff), on becoming leader, and every `resync`.
//! Permanent errors wait for the next change.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use futures::StreamExt;
use hermes_compiler::contract;
use hermes_crds::api::{LookupTable, Tag, Trigger};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, CustomResourceExt};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::api_timeout;
use crate::cache::NamespaceCache;
use crate::discovery;
use crate::error::Error;
use crate::events::{
    Emit, LeadershipAcquired, LeadershipLost, ReconcileDone, ReconcileFailed,
    ReconcileStoppedNotLeader,
};
use crate::leader::{LeaderOptions, Leadership};
use crate::lookup_feed;
use crate::metrics::{self, Metrics};
use crate::publication::{OutcomeSink, PubSubOutcomes, PublicationOptions};
use crate::reconcile::{self, Context, NamespaceMemory, TopicCheck};
use crate::topic_check::{PubSubTopics, TopicCheckOptions, TopicLookup};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The namespaces to reconcile, each into its own config.
    pub namespaces: Vec<String>,
    /// Also reconcile every namespace where a Tag, Trigger or LookupTable appears
    /// (needs cluster-wide rights: the chart's ClusterRole mode).
    pub all_namespaces: bool,
    /// The config ConfigMap's name in each namespace.
    pub config_map: String,
    /// This replica's identity (events, leader Lease).
    pub identity: String,
    /// Leader election; `None`: this replica always leads (one replica only).
    pub leader: Option<LeaderOptions>,
    /// Where config publication outcomes go, if anywhere.
    pub publication: Option<PublicationOptions>,
    /// Where `/metrics` is served.
    pub metrics_addr: Option<SocketAddr>,
    /// How long a worker waits after a change for more changes.
    pub debounce: Duration,
    /// Reconcile every namespace at least this often.
    pub resync: Duration,
    /// `$PUBSUB_EMULATOR_HOST` for the lookup feeds' subscriber, if set.
    pub pubsub_emulator_host: Option<String>,
    /// Check that each Tag's topic exists (`--check-topics`); `None`: do not.
    pub topic_check: Option<TopicCheckOptions>,
    /// The most shard ConfigMaps a config is split into ([`contract::MAX_SHARDS`]).
    pub max_config_shards: usize,
    /// The most config bytes one ConfigMap holds ([`contract::SHARD_LIMIT_BYTES`]).
    pub config_shard_bytes: usize,
    /// Every API request but watches gives up after this long ([`api_timeout`]).
    pub api_request_timeout: Duration,
}

impl Options {
    /// Defaults for `namespaces`: the default ConfigMap, no election, no topic, no
    /// metrics endpoint, 100 ms debounce, 5 min resync, no topic check, 10 s API requests.
    pub fn new(namespaces: Vec<String>, identity: impl Into<String>) -> Self {
        Options {
            namespaces,
            all_namespaces: false,
            config_map: contract::DEFAULT_CONFIG_MAP.to_string(),
            identity: identity.into(),
            leader: None,
            publication: None,
            metrics_addr: None,
            debounce: Duration::from_millis(100),
            resync: Duration::from_secs(300),
            pubsub_emulator_host: None,
            topic_check: None,
            max_config_shards: contract::MAX_SHARDS,
            config_shard_bytes: contract::SHARD_LIMIT_BYTES,
            api_request_timeout: api_timeout::DEFAULT,
        }
    }
}

/// The topic check's client; without one (no credentials found) topics are not checked,
/// which only loses the early warning: the gateways still report failing topics.
async fn connect_topic_check(options: &TopicCheckOptions) -> Option<TopicCheck> {
    match PubSubTopics::connect(options).await {
        Ok(topics) => {
            let lookup: Arc<dyn TopicLookup> = Arc::new(topics);
            Some(TopicCheck {
                lookup,
                options: options.clone(),
            })
        }
        Err(error) => {
            tracing::warn!(%error, "topics are not checked (the gateways still report failing topics)");
            None
        }
    }
}

/// Run until `shutdown` completes; then stop the workers and release the leader Lease.
/// Every request through `client` but watches is bounded by
/// [`Options::api_request_timeout`].
pub async fn run(
    client: Client,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let client = api_timeout::bounded(client, options.api_request_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    tokio::select! {
        () = wait_for_crds(&client) => {}
        _ = &mut shutdown => return Ok(()),
    }
    let metrics = Arc::new(Metrics::new());
    // Aborted when dropped, so that dropping this future (a test simulating a crash)
    // stops everything, as a process exit would.
    let mut tasks = JoinSet::new();
    if let Some(addr) = options.metrics_addr {
        let metrics = metrics.clone();
        tasks.spawn(async move {
            if let Err(error) = metrics::serve(addr, metrics).await {
                tracing::error!(%error, "metrics endpoint stopped");
            }
        });
    }
    let outcomes: Option<Arc<dyn OutcomeSink>> = match &options.publication {
        Some(publication) => Some(Arc::new(
            PubSubOutcomes::connect(publication)
                .await
                .map_err(Error::ConnectPublication)?,
        )),
        None => None,
    };
    let topic_check = match &options.topic_check {
        Some(check) => connect_topic_check(check).await,
        None => None,
    };
    let leadership = Arc::new(match options.leader.clone() {
        Some(leader) => Leadership::start(client.clone(), leader, metrics.clone()).await?,
        None => Leadership::always(),
    });
    tasks.spawn(track_leadership(
        leadership.clone(),
        metrics.clone(),
        options.identity.clone(),
    ));
    let ctx = Arc::new(Context {
        client: client.clone(),
        metrics: metrics.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: contract::OPERATOR_FIELD_MANAGER.to_string(),
                instance: Some(options.identity.clone()),
            },
        ),
        leadership: leadership.clone(),
        outcomes,
        topic_check,
        config_map_limits: contract::ConfigMapLimits::new(
            options.config_shard_bytes,
            options.max_config_shards,
        ),
    });
    let start_worker = {
        let (ctx, options) = (ctx.clone(), options.clone());
        move |namespace: &str| {
            let cache = NamespaceCache::start(
                &ctx.client,
                namespace,
                &options.config_map,
                ctx.metrics.clone(),
            );
            (
                cache.lookup_tables(),
                worker(ctx.clone(), cache, options.debounce, options.resync),
            )
        }
    };
    // Lookup feeds run for every reconciled namespace's tables: the named ones, and with
    // `--all-namespaces` each namespace as it is discovered.
    let (tables, table_stores) = watch::channel(Vec::new());
    for namespace in &options.namespaces {
        let (namespace_tables, worker) = start_worker(namespace);
        tables.send_modify(|stores| stores.push(namespace_tables));
        tasks.spawn(worker);
    }
    if options.all_namespaces {
        let known = options.namespaces.clone();
        let discovered = discovery::namespaces(&client);
        tasks.spawn(async move {
            // The discovered namespaces' workers; aborted with this task.
            let mut workers = JoinSet::new();
            let mut discovered = std::pin::pin!(discovered);
            while let Some(namespace) = discovered.next().await {
                if !known.contains(&namespace) {
                    tracing::info!(namespace, "reconciling a discovered namespace");
                    let (namespace_tables, worker) = start_worker(&namespace);
                    tables.send_modify(|stores| stores.push(namespace_tables));
                    workers.spawn(worker);
                }
            }
        });
    }
    // Apart from `tasks`: on shutdown the feeds stop first, handing back what they hold
    // while this replica still leads. Aborted when dropped, as `tasks`.
    let (stop_feeds, feeds_stopped) = oneshot::channel::<()>();
    let mut feeds = JoinSet::new();
    feeds.spawn(lookup_feed::run(
        ctx.clone(),
        table_stores,
        options.pubsub_emulator_host.clone(),
        async move {
            let _ = feeds_stopped.await;
        },
    ));
    tracing::info!(
        namespaces = ?options.namespaces,
        all_namespaces = options.all_namespaces,
        identity = %options.identity,
        "operator running"
    );
    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_feeds.send(());
    feeds.join_all().await;
    tasks.shutdown().await;
    leadership.release().await;
    Ok(())
}

/// Wait until the Tag, Trigger and LookupTable CRDs are established, retrying watch
/// failures for as long as it takes (they may be installed after the operator).
async fn wait_for_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in [
        Tag::crd_name(),
        Trigger::crd_name(),
        LookupTable::crd_name(),
    ] {
        let mut logged = false;
        loop {
            let wait = await_condition(crds.clone(), name, conditions::is_crd_established());
            match tokio::time::timeout(Duration::from_secs(30), wait).await {
                Ok(Ok(_)) => break,
                Ok(Err(error)) if !logged => {
                    tracing::warn!(crd = name, %error, "cannot read CRD; retrying");
                    logged = true;
                }
                Ok(Err(_)) => {}
                Err(_) => tracing::info!(crd = name, "waiting for CRD to be established"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    tracing::info!("CRDs established");
}

async fn track_leadership(leadership: Arc<Leadership>, metrics: Arc<Metrics>, identity: String) {
    let mut state = leadership.subscribe();
    let identity = identity.as_str();
    loop {
        if *state.borrow_and_update() {
            LeadershipAcquired { identity }.emit(&metrics);
        } else {
            LeadershipLost { identity }.emit(&metrics);
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

async fn worker(ctx: Arc<Context>, cache: NamespaceCache, debounce: Duration, resync: Duration) {
    cache.wait_until_ready().await;
    let namespace = cache.namespace.clone();
    let namespace = namespace.as_str();
    tracing::info!(namespace, "namespace cache ready");
    let mut memory = NamespaceMemory::default();
    let mut leader = ctx.leadership.subscribe();
    let mut backoff = retry_backoff();
    let mut next_at = Instant::now();
    cache.signal.raise();
    loop {
        tokio::select! {
            _ = cache.signal.raised() => {}
            _ = tokio::time::sleep_until(next_at) => {}
            changed = leader.changed() => {
                if changed.is_err() {
                    return;
                }
                if *leader.borrow_and_update() {
                    cache.signal.raise();
                }
                continue;
            }
        }
        next_at = Instant::now() + resync;
        if !*leader.borrow() {
            cache.signal.take();
            continue;
        }
        tokio::time::sleep(debounce).await;
        let since = cache.signal.take();
        match reconcile::reconcile(&ctx, &cache, &mut memory, since).await {
            Ok(reconciled) => {
                ReconcileDone {
                    namespace,
                    hash: &reconciled.hash,
                }
                .emit(&ctx.metrics);
                backoff = retry_backoff();
                if let Some(at) = reconciled.recheck_at.map(instant_of) {
                    next_at = next_at.min(at);
                }
            }
            Err(error) if error.is_not_leader() => {
                ReconcileStoppedNotLeader {
                    namespace,
                    error: &error,
                }
                .emit(&ctx.metrics);
                if let Some(delay) = retry_after_not_leader(*leader.borrow(), &mut backoff) {
                    next_at = Instant::now() + delay;
                }
            }
            Err(error) => {
                let retry_in = if error.is_transient() {
                    backoff.next()
                } else {
                    None
                };
                ReconcileFailed {
                    namespace,
                    error: &error,
                    retry_in,
                }
                .emit(&ctx.metrics);
                if let Some(delay) = retry_in {
                    next_at = Instant::now() + delay;
                }
            }
        }
    }
}

/// When to reconcile again after a reconcile stopped before writing because the Lease,
/// read back, was no longer this replica's. If the election still says this replica
/// leads, its renewals came late (a runtime busy for seconds, say with a 100,000-row
/// lookup table, or a slow API server): the Lease lapsed, and the manager renews it or
/// another replica takes it. Nothing else would wake this namespace's worker (leadership
/// did not change), so it tries again with the transient-error backoff; without that, the
/// namespace's configs and statuses waited for the next resync. If the election says
/// another replica leads, the worker waits for leadership to change instead.
fn retry_after_not_leader(
    still_elected: bool,
    backoff: &mut impl Iterator<Item = Duration>,
) -> Option<Duration> {
    if still_elected { backoff.next() } else { None }
}

/// Retry delays after transient errors: 500 ms doubling to 60 s, forever (a reconcile
/// is retried until it succeeds or the inputs change); restarted after a success.
fn retry_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(500))
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(60))
        .without_max_times()
        .build()
}

/// The monotonic instant of a wall-clock time (a little after it, so that a report is
/// surely expired by then).
fn instant_of(at: Timestamp) -> Instant {
    let until = at.duration_since(Timestamp::now());
    let until = Duration::try_from(until).unwrap_or(Duration::ZERO);
    Instant::now() + until + Duration::from_millis(200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_to_a_minute_and_never_gives_up() {
        let delays: Vec<_> = retry_backoff().take(20).collect();
        assert_eq!(delays.len(), 20);
        assert_eq!(delays[0], Duration::from_millis(500));
        assert_eq!(delays[1], Duration::from_secs(1));
        assert_eq!(delays[7], Duration::from_secs(60));
        assert_eq!(delays[19], Duration::from_secs(60));
    }

    #[test]
    fn a_lapsed_lease_is_retried_with_backoff_while_elected_and_left_to_the_election_otherwise() {
        let mut backoff = retry_backoff();
        assert_eq!(
            retry_after_not_leader(true, &mut backoff),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            retry_after_not_leader(true, &mut backoff),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_after_not_leader(false, &mut backoff), None);
    }

    #[test]
    fn past_times_are_due_now() {
        let past = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(5);
        assert!(instant_of(past) <= Instant::now() + Duration::from_millis(250));
    }
}
