//! The operator's wiring: wait for the CRDs, join the leader election, start one cache and
//! one worker per scope (namespace), serve metrics, and shut down cleanly (workers
//! stopped, leader Lease released).
//!
//! A worker reconciles its scope when the cache signals a change (debounced), when a
//! gateway report may expire ([`crate::reconcile::reconcile`]'s recheck time), after a
//! transient error (exponential backoff), on becoming leader, and every `resync`.
//! Permanent errors wait for the next change.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hermes_compiler::contract;
use hermes_crds::api::{LookupTable, Tag, Trigger};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, CustomResourceExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cache::ScopeCache;
use crate::error::Error;
use crate::leader::{LeaderOptions, Leadership};
use crate::metrics::{self, Metrics};
use crate::publication::{OutcomeSink, PubSubOutcomes, PublicationOptions};
use crate::reconcile::{self, Context, ScopeMemory};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The scopes: one namespace each.
    pub namespaces: Vec<String>,
    /// The config ConfigMap's name in each scope.
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
    /// Reconcile every scope at least this often.
    pub resync: Duration,
}

impl Options {
    /// Defaults for `namespaces`: the default ConfigMap, no election, no topic, no
    /// metrics endpoint, 100 ms debounce, 5 min resync.
    pub fn new(namespaces: Vec<String>, identity: impl Into<String>) -> Self {
        Options {
            namespaces,
            config_map: contract::DEFAULT_CONFIG_MAP.to_string(),
            identity: identity.into(),
            leader: None,
            publication: None,
            metrics_addr: None,
            debounce: Duration::from_millis(100),
            resync: Duration::from_secs(300),
        }
    }
}

/// Run until `shutdown` completes; then stop the workers and release the leader Lease.
pub async fn run(
    client: Client,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut shutdown = std::pin::pin!(shutdown);
    tokio::select! {
        result = wait_for_crds(&client) => result?,
        _ = &mut shutdown => return Ok(()),
    }
    let metrics = Arc::new(Metrics::new());
    let mut tasks = Tasks::default();
    if let Some(addr) = options.metrics_addr {
        let metrics = metrics.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(error) = metrics::serve(addr, metrics).await {
                tracing::error!(%error, "metrics endpoint stopped");
            }
        }));
    }
    let outcomes: Option<Arc<dyn OutcomeSink>> = match &options.publication {
        Some(publication) => Some(Arc::new(PubSubOutcomes::connect(publication).await?)),
        None => None,
    };
    let leadership = Arc::new(match options.leader.clone() {
        Some(leader) => Leadership::start(client.clone(), leader).await?,
        None => Leadership::always(),
    });
    tasks.push(tokio::spawn(track_leadership(
        leadership.clone(),
        metrics.clone(),
    )));
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
    });
    for namespace in &options.namespaces {
        let cache = ScopeCache::start(&client, namespace, &options.config_map);
        tasks.push(tokio::spawn(worker(
            ctx.clone(),
            cache,
            options.debounce,
            options.resync,
        )));
    }
    tracing::info!(
        namespaces = ?options.namespaces,
        identity = %options.identity,
        "operator running"
    );
    shutdown.await;
    tracing::info!("shutting down");
    tasks.stop().await;
    leadership.release().await;
    Ok(())
}

/// The operator's background tasks; aborted when dropped, so that dropping [`run`]'s
/// future (a test simulating a crash) stops everything, as a process exit would.
#[derive(Default)]
struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    fn push(&mut self, task: JoinHandle<()>) {
        self.0.push(task);
    }

    async fn stop(mut self) {
        for task in &self.0 {
            task.abort();
        }
        for task in std::mem::take(&mut self.0) {
            let _ = task.await;
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Wait until the Tag, Trigger and LookupTable CRDs are established, retrying watch
/// failures.
async fn wait_for_crds(client: &Client) -> Result<(), Error> {
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
    Ok(())
}

async fn track_leadership(leadership: Arc<Leadership>, metrics: Arc<Metrics>) {
    let mut state = leadership.subscribe();
    loop {
        metrics.leader.set(i64::from(*state.borrow_and_update()));
        if state.changed().await.is_err() {
            return;
        }
    }
}

async fn worker(ctx: Arc<Context>, cache: ScopeCache, debounce: Duration, resync: Duration) {
    cache.wait_until_ready().await;
    let scope = cache.namespace.clone();
    tracing::info!(%scope, "scope cache ready");
    let mut memory = ScopeMemory::default();
    let mut leader = ctx.leadership.subscribe();
    let mut backoff = RetryBackoff::default();
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
            Ok(recheck) => {
                backoff.reset();
                if let Some(at) = recheck.map(instant_of) {
                    next_at = next_at.min(at);
                }
            }
            Err(Error::NotLeader) => tracing::info!(%scope, "no longer the leader; not writing"),
            Err(error) => {
                ctx.metrics.error(&scope, &error);
                if error.is_transient() {
                    let delay = backoff.next_delay();
                    tracing::warn!(%scope, %error, retry_in = ?delay, "reconcile failed; retrying");
                    next_at = Instant::now() + delay;
                } else {
                    tracing::error!(%scope, %error, "reconcile failed; waiting for a change");
                }
            }
        }
    }
}

/// The monotonic instant of a wall-clock time (a little after it, so that a report is
/// surely expired by then).
fn instant_of(at: Timestamp) -> Instant {
    let until = at.duration_since(Timestamp::now());
    let until = Duration::try_from(until).unwrap_or(Duration::ZERO);
    Instant::now() + until + Duration::from_millis(200)
}

/// 500 ms doubling to 60 s.
struct RetryBackoff {
    next: Duration,
}

impl Default for RetryBackoff {
    fn default() -> Self {
        RetryBackoff {
            next: Duration::from_millis(500),
        }
    }
}

impl RetryBackoff {
    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(60));
        delay
    }

    fn reset(&mut self) {
        *self = RetryBackoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_to_a_minute_and_resets() {
        let mut backoff = RetryBackoff::default();
        let delays: Vec<_> = (0..9).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], Duration::from_millis(500));
        assert_eq!(delays[1], Duration::from_secs(1));
        assert_eq!(delays[8], Duration::from_secs(60));
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(500));
    }

    #[test]
    fn past_times_are_due_now() {
        let past = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(5);
        assert!(instant_of(past) <= Instant::now() + Duration::from_millis(250));
    }
}
