//! Shared by the operator integration tests: the operator and gateway config watchers run
//! in-process against the test cluster (dropping or aborting them is a crash: nothing is
//! released), fake gateway Leases, and waits on status conditions.

#![allow(dead_code)]

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use hermes_compiler::config::GatewayConfig;
use hermes_compiler::contract::{self, GatewayReport};
use hermes_crds::api::{READY, ResourceStatus, StatusCondition};
use hermes_gateway::config_source::cluster::ClusterOptions;
use hermes_gateway::config_source::{ConfigSink, ConfigStore};
use hermes_operator::Options;
use hermes_tests::{TestCluster, TestNamespace, wait_for};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Patch, PatchParams};
use kube::core::object::HasStatus;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A Trigger on `LowStock` events and the Tag it fires (sku → `low-stock`).
pub const SIGNAL: &str = r#"
apiVersion: hermes.io/v1alpha1
kind: Trigger
metadata:
  name: low-stock-signal
spec:
  event:
    name: LowStock
---
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata:
  name: low-stock-signal
spec:
  firingTriggers: [low-stock-signal]
  topic: projects/hermes-local/topics/low-stock
  payload:
    fields:
      - {key: sku, value: {eventData: sku}}
"#;

/// Generous for a loaded two-core machine; the operator normally takes well under 1 s.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A namespace of the shared cluster, with the Hermes CRDs installed.
pub async fn namespace(prefix: &str) -> TestNamespace {
    hermes_tests::install_crypto_provider();
    // Operator and gateway logs, shown for failing tests (RUST_LOG to tune).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube_lease_manager=warn".into()),
        )
        .with_test_writer()
        .try_init();
    let cluster = TestCluster::shared().await.expect("test cluster starts");
    cluster.apply_crds().await.expect("CRDs install");
    cluster
        .namespace(prefix)
        .await
        .expect("namespace is created")
}

/// Operator options for one test namespace: fast debounce, no election.
pub fn options(ns: &TestNamespace, identity: &str) -> Options {
    let mut options = Options::new(vec![ns.name().to_string()], identity);
    options.debounce = Duration::from_millis(50);
    options
}

/// An operator running in this process.
pub struct Operator {
    pub identity: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), hermes_operator::Error>>,
}

impl Operator {
    pub fn start(client: Client, options: Options) -> Self {
        let (shutdown, stopped) = oneshot::channel::<()>();
        let identity = options.identity.clone();
        let task = tokio::spawn(hermes_operator::run(client, options, async move {
            let _ = stopped.await;
        }));
        Operator {
            identity,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// Graceful shutdown (SIGTERM): workers stop, the leader Lease is released.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let result = (&mut self.task).await.expect("operator task");
        result.expect("operator ran without error");
    }

    /// A crash: everything stops, nothing is released.
    pub async fn kill(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A gateway replica's cluster config source, in-process, swapping configs into the
/// gateway's real [`ConfigStore`] (so configs are also prepared as the gateway does).
pub struct Gateway {
    pub store: Arc<ConfigStore>,
    pub options: ClusterOptions,
    task: JoinHandle<()>,
}

impl Gateway {
    pub fn start(client: Client, ns: &TestNamespace, replica: &str) -> Self {
        let mut registry = prometheus_client_registry();
        let metrics = Arc::new(hermes_gateway::metrics::Metrics::register(&mut registry));
        let store = Arc::new(ConfigStore::new(metrics));
        let mut options = ClusterOptions::new(ns.name(), replica);
        options.lease_duration = Duration::from_secs(6);
        let task = tokio::spawn(hermes_gateway::config_source::cluster::run(
            client,
            options.clone(),
            store.clone(),
        ));
        Gateway {
            store,
            options,
            task,
        }
    }

    /// The hash being served.
    pub fn serving(&self) -> Option<String> {
        self.store.current_hash()
    }

    /// Wait until `hash` is served.
    pub async fn wait_serving(&self, hash: &str) {
        wait_for(TIMEOUT, || async {
            match self.serving() {
                Some(serving) if serving == hash => Ok(()),
                other => Err(format!("gateway serves {other:?}, want {hash}")),
            }
        })
        .await
        .expect("gateway serves the config");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn prometheus_client_registry() -> prometheus_client::registry::Registry {
    prometheus_client::registry::Registry::default()
}

/// `kubectl apply -f -` in the namespace.
pub async fn apply_yaml(ns: &TestNamespace, yaml: &str) {
    let output = ns
        .kubectl_output(&["apply", "-f", "-"], Some(yaml))
        .await
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The Ready condition of a status.
pub fn ready(status: Option<&ResourceStatus>) -> Option<&StatusCondition> {
    status.and_then(|s| s.conditions.iter().find(|c| c.type_ == READY))
}

/// A condition of a status by type.
pub fn condition<'a>(status: &'a ResourceStatus, type_: &str) -> Option<&'a StatusCondition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// Wait until `name`'s Ready condition has `status` and `reason`; returns the object.
pub async fn wait_ready<K>(ns: &TestNamespace, name: &str, status: &str, reason: &str) -> K
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + HasStatus<Status = ResourceStatus>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let api = ns.api::<K>();
    wait_for(TIMEOUT, || async {
        let object = api.get(name).await.map_err(|e| e.to_string())?;
        match ready(object.status()) {
            Some(c) if c.status == status && c.reason == reason => Ok(object),
            other => Err(format!("{name}: Ready is {other:?}")),
        }
    })
    .await
    .expect("Ready condition reached")
}

/// Wait until `name`'s status satisfies `check`; returns the object.
pub async fn wait_status<K>(
    ns: &TestNamespace,
    name: &str,
    check: impl Fn(&ResourceStatus) -> Result<(), String>,
) -> K
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + HasStatus<Status = ResourceStatus>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let api = ns.api::<K>();
    wait_for(TIMEOUT, || async {
        let object = api.get(name).await.map_err(|e| e.to_string())?;
        let status = object.status().cloned().unwrap_or_default();
        check(&status).map_err(|e| format!("{name}: {e}; status: {status:?}"))?;
        Ok::<_, String>(object)
    })
    .await
    .expect("status reached")
}

/// Ready=True, live with config `hash`.
pub fn live_with(hash: &str) -> impl Fn(&ResourceStatus) -> Result<(), String> + '_ {
    move |status| match (ready(Some(status)), status.config_hash.as_deref()) {
        (Some(c), Some(h)) if c.status == "True" && h == hash => Ok(()),
        _ => Err(format!("not live with {hash}")),
    }
}

/// The config ConfigMap, once it exists.
pub async fn config_map(ns: &TestNamespace) -> ConfigMap {
    let api = ns.api::<ConfigMap>();
    wait_for(TIMEOUT, || async {
        api.get_opt(contract::DEFAULT_CONFIG_MAP)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no config ConfigMap yet".to_string())
    })
    .await
    .expect("config ConfigMap written")
}

/// Wait until the config ConfigMap holds a config satisfying `check`; returns it.
pub async fn wait_config(
    ns: &TestNamespace,
    check: impl Fn(&GatewayConfig) -> Result<(), String>,
) -> GatewayConfig {
    let api = ns.api::<ConfigMap>();
    wait_for(TIMEOUT, || async {
        let cm = api
            .get_opt(contract::DEFAULT_CONFIG_MAP)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no config ConfigMap yet")?;
        let config = contract::decode(&cm).map_err(|e| e.to_string())?;
        check(&config)?;
        Ok::<_, String>(config)
    })
    .await
    .expect("config reached")
}

/// Write a gateway report Lease as a replica would, renewed `renewed_secs_ago`.
pub async fn write_gateway_lease(
    ns: &TestNamespace,
    replica: &str,
    hash: Option<&str>,
    renewed_secs_ago: i64,
    duration_secs: i64,
) {
    let lease = GatewayReport {
        replica: replica.to_string(),
        hash: hash.map(str::to_string),
        error: None,
        renew_time: Some(Timestamp::now() - SignedDuration::from_secs(renewed_secs_ago)),
        duration: SignedDuration::from_secs(duration_secs),
    }
    .to_lease(ns.name());
    ns.api::<Lease>()
        .patch(
            &contract::gateway_lease_name(replica),
            &PatchParams::apply("hermes-tests-fake-gateway").force(),
            &Patch::Apply(&lease),
        )
        .await
        .expect("lease written");
}
