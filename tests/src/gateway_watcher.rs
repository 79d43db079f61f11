//! A gateway replica's cluster config source running in the test's own process: it
//! watches the config ConfigMap, swaps configs into the gateway's real [`ConfigStore`]
//! (so configs are prepared as the gateway does) and keeps the replica's report Lease.

use std::sync::Arc;
use std::time::Duration;

use hermes_gateway::config_source::cluster::ClusterOptions;
use hermes_gateway::config_source::{ConfigSink, ConfigStore};
use hermes_gateway::metrics::Metrics;
use kube::Client;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;

use crate::TIMEOUT;
use crate::fixtures;
use crate::namespace::{TestNamespace, namespace_with_crds};
use crate::wait::wait_for;

/// How long the replica's report Lease lasts: short, so tests see expiry quickly.
const REPORT_LEASE: Duration = Duration::from_secs(6);

/// A gateway replica's config watcher; aborted (a crash) when dropped.
pub struct GatewayWatcher {
    /// The store the watcher swaps configs into.
    pub store: Arc<ConfigStore>,
    /// The options it runs with.
    pub options: ClusterOptions,
    task: JoinHandle<()>,
}

impl GatewayWatcher {
    /// Starts replica `replica`'s watcher on `ns` with `client`.
    pub fn start(client: Client, ns: &TestNamespace, replica: &str) -> Self {
        crate::logs::capture_logs();
        let metrics = Arc::new(Metrics::register(&mut Registry::default()));
        let store = Arc::new(ConfigStore::new(metrics));
        let mut options = ClusterOptions::new(ns.name(), replica);
        options.lease_duration = REPORT_LEASE;
        let task = tokio::spawn(hermes_gateway::config_source::cluster::run(
            client,
            options.clone(),
            store.clone(),
        ));
        GatewayWatcher {
            store,
            options,
            task,
        }
    }

    /// The hash being served.
    pub fn serving(&self) -> Option<String> {
        self.store.current_hash()
    }

    /// Wait until `hash` is served; panics with what is served instead.
    pub async fn wait_serving(&self, hash: &str) {
        wait_for(TIMEOUT, || async {
            match self.serving() {
                Some(serving) if serving == hash => Ok(()),
                other => Err(format!("gateway serves {other:?}, want {hash}")),
            }
        })
        .await
        .unwrap_or_else(|error| panic!("gateway does not serve the config: {error}"));
    }

    /// Wait until a hash other than `old` is served; returns it.
    pub async fn wait_change(&self, old: &str) -> String {
        wait_for(TIMEOUT, || async {
            match self.serving() {
                Some(hash) if hash != old => Ok(hash),
                other => Err(format!("still serving {other:?}")),
            }
        })
        .await
        .unwrap_or_else(|error| panic!("gateway did not swap the new config in: {error}"))
    }
}

/// A namespace (CRDs applied) holding the examples' low-stock Tag and its Trigger,
/// watched by one gateway replica, `gw-0`; panics if the cluster cannot give one.
pub async fn low_stock_tag_with_a_gateway(prefix: &str) -> (TestNamespace, GatewayWatcher) {
    let ns = namespace_with_crds(prefix)
        .await
        .unwrap_or_else(|error| panic!("no test namespace: {error}"));
    let (trigger, tag) = fixtures::low_stock_signal();
    ns.apply(&[&trigger, &tag])
        .await
        .unwrap_or_else(|error| panic!("low-stock Tag and Trigger not applied: {error}"));
    let gateway = GatewayWatcher::start(ns.client(), &ns, "gw-0");
    (ns, gateway)
}

impl Drop for GatewayWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
