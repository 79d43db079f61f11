//! The whole product as processes: `hermes-operator` and `hermes-gateway --cluster` (the
//! built binaries, with their own service-account identities and RBAC) against the real
//! kube-apiserver and Pub/Sub emulator. Each test gets its own namespace and emulator.
//! The methods assert: they panic with what they saw, as a failing test should.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;

use crate::fixtures::{PROJECT, topic};
use crate::gateway_process::GatewayProcess;
use crate::identity::Identity;
use crate::namespace::{Manifest, TestNamespace};
use crate::ports::free_port;
use crate::product::{Process, binary};
use crate::pubsub::{PubSubEmulator, ReceivedMessage};
use crate::{TestCluster, wait_for};

/// The topics every stack has, each with one subscription the test pulls from.
pub const TOPICS: [&str; 5] = [
    "promotions",
    "low-stock",
    "purchases",
    "cart-activity",
    "config-publications",
];
pub use crate::low_stock::LOW_STOCK_HIT;
/// Generous for processes on a loaded two-core machine: the stack's waits, a config
/// change among them ([`Stack::wait_gateway_change`]).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The test's subscription to topic `name`.
fn subscription(name: &str) -> String {
    format!("projects/{PROJECT}/subscriptions/{name}-e2e")
}

/// The shared cluster with CRDs and the operator/gateway RBAC (`fixtures/rbac.yaml`)
/// installed.
pub async fn cluster() -> &'static TestCluster {
    let cluster = TestCluster::shared().await.expect("test cluster starts");
    cluster.apply_crds().await.expect("CRDs install");
    // Once per test binary: concurrent client-side applies of one object conflict.
    static RBAC: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    RBAC.get_or_init(|| async {
        let rbac = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/rbac.yaml");
        let path = rbac.to_str().expect("utf-8 path");
        cluster
            .kubectl(&["apply", "--server-side", "-f", path])
            .await
            .expect("RBAC applies");
    })
    .await;
    cluster
}

/// Operator(s), a gateway replica and an emulator for one namespace.
pub struct Stack {
    /// The test namespace the product serves.
    pub ns: TestNamespace,
    /// The emulator the gateway and operators publish to.
    pub emulator: PubSubEmulator,
    /// The gateway replica `gw-0`.
    pub gateway: GatewayProcess,
    /// Where the gateway listens, `http://127.0.0.1:PORT`.
    pub gateway_url: String,
    /// The operators, named `operator-N` or as spawned.
    pub operators: Vec<Process>,
    /// A client for the gateway.
    pub http: reqwest::Client,
    /// Flags and environment every operator process gets besides the stack's own.
    operator_args: Vec<String>,
    operator_env: Vec<(String, String)>,
    /// Each operator's `/metrics` URL, in [`Stack::operators`]' order.
    operator_metrics: Vec<String>,
    logs: tempfile::TempDir,
}

/// Extra flags for a stack's processes.
#[derive(Clone, Debug, Default)]
pub struct StackArgs {
    /// Given to `hermes-gateway`.
    pub gateway: Vec<String>,
    /// Given to each `hermes-operator`.
    pub operator: Vec<String>,
    /// Environment variables for each `hermes-operator` (e.g. `RUST_LOG`), over the
    /// stack's own.
    pub operator_env: Vec<(String, String)>,
}

impl Stack {
    /// Start with `operators` operator processes (leader election among them).
    pub async fn start(prefix: &str, operators: usize) -> Stack {
        Self::start_with(prefix, operators, StackArgs::default()).await
    }

    /// [`Stack::start`] with extra flags for the gateway and the operators.
    pub async fn start_with(prefix: &str, operators: usize, args: StackArgs) -> Stack {
        let cluster = cluster().await;
        let ns = cluster.namespace(prefix).await.expect("namespace");
        let emulator = PubSubEmulator::start().await.expect("emulator starts");
        emulator
            .create_topics_with_subscriptions(PROJECT, &TOPICS, "e2e")
            .await
            .expect("topics and subscriptions created");
        let logs = tempfile::tempdir().unwrap();
        let gateway = GatewayProcess::builder()
            .args([
                "--cluster",
                "--namespace",
                ns.name(),
                "--replica-id",
                "gw-0",
            ])
            .args(["--mp-secret", "G-SHOP=s3cret"])
            .args(&args.gateway)
            .env("KUBECONFIG", cluster.kubeconfig_for(Identity::Gateway))
            .pubsub(emulator.host_port())
            .buffer_dir(logs.path().join("buffer"))
            .logs_in(logs.path(), "gateway")
            .log_filter("info")
            .spawn()
            .unwrap();
        let mut stack = Stack {
            ns,
            emulator,
            gateway_url: gateway.url(),
            gateway,
            operators: Vec::new(),
            http: reqwest::Client::new(),
            operator_args: args.operator,
            operator_env: args.operator_env,
            operator_metrics: Vec::new(),
            logs,
        };
        for index in 0..operators {
            stack.spawn_operator(&format!("operator-{index}"));
        }
        stack
    }

    /// Start one more operator process named `identity`.
    pub fn spawn_operator(&mut self, identity: &str) {
        let cluster = self.ns.cluster();
        let mut operator = Command::new(binary("hermes-operator").unwrap());
        let metrics = format!("127.0.0.1:{}", free_port().unwrap());
        operator
            .args(["--namespace", self.ns.name(), "--identity", identity])
            .args(["--leader-lease-seconds", "4", "--debounce-ms", "50"])
            .args(["--metrics-addr", &metrics])
            .args(["--publication-topic", &topic("config-publications")])
            .args(&self.operator_args)
            .env("KUBECONFIG", cluster.kubeconfig_for(Identity::Operator))
            .env("PUBSUB_EMULATOR_HOST", self.emulator.host_port())
            .env("RUST_LOG", "info,kube_lease_manager=warn")
            .envs(self.operator_env.iter().map(|(k, v)| (k, v)));
        let process = Process::spawn(identity, operator, self.logs.path()).unwrap();
        self.operators.push(process);
        self.operator_metrics
            .push(format!("http://{metrics}/metrics"));
    }

    /// The sum of operator `index`'s samples of metric `name` for this stack's namespace
    /// (0 when it has none or does not answer).
    pub async fn operator_metric(&self, index: usize, name: &str) -> f64 {
        let Ok(response) = self.http.get(&self.operator_metrics[index]).send().await else {
            return 0.0;
        };
        let text = response.text().await.unwrap_or_default();
        let scope = format!("scope=\"{}\"", self.ns.name());
        text.lines()
            .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(&scope))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// `kubectl apply -n NS -f PATH`.
    pub async fn apply_path(&self, path: &Path) {
        self.ns
            .kubectl(&["apply", "-f", path.to_str().expect("utf-8 path")])
            .await
            .expect("kubectl apply");
    }

    /// `kubectl apply -n NS` of `objects` (see [`TestNamespace::apply`]).
    pub async fn apply(&self, objects: &[&dyn Manifest]) {
        self.ns.apply(objects).await.expect("kubectl apply");
    }

    /// `kubectl -n NS ARGS…`, asserting success.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        self.ns.kubectl(args).await.expect("kubectl")
    }

    /// `kubectl wait --for=condition=Ready` on `what` (e.g. `tag/x` or `tags --all`).
    pub async fn wait_ready(&self, what: &[&str]) {
        let mut args = vec!["wait", "--for=condition=Ready", "--timeout=60s"];
        args.extend_from_slice(what);
        let output = self
            .ns
            .kubectl_output(&args, None)
            .await
            .expect("kubectl runs");
        assert!(
            output.status.success(),
            "kubectl wait {what:?}: {}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.kubectl(&["get", "tags,triggers,lookuptables", "-o", "wide"])
                .await,
        );
    }

    /// `kubectl get OBJECT -o jsonpath={PATH}`, e.g. `("tag/x", ".status.liveGeneration")`.
    pub async fn field(&self, object: &str, path: &str) -> String {
        let jsonpath = format!("jsonpath={{{path}}}");
        self.kubectl(&["get", object, "-o", &jsonpath]).await
    }

    /// A Ready condition field, e.g. `reason`.
    pub async fn ready_field(&self, object: &str, field: &str) -> String {
        self.condition_field(object, "Ready", field).await
    }

    /// A field of the condition `type_`, e.g. `("tag/x", "Delivering", "reason")`.
    pub async fn condition_field(&self, object: &str, type_: &str, field: &str) -> String {
        self.field(
            object,
            &format!(".status.conditions[?(@.type==\"{type_}\")].{field}"),
        )
        .await
    }

    /// Wait until `object`'s condition `type_` has `status` and `reason`; returns its
    /// message.
    pub async fn wait_condition(
        &self,
        object: &str,
        type_: &str,
        status: &str,
        reason: &str,
    ) -> String {
        wait_for(TIMEOUT, || async {
            let got = (
                self.condition_field(object, type_, "status").await,
                self.condition_field(object, type_, "reason").await,
            );
            if got.0 == status && got.1 == reason {
                Ok(self.condition_field(object, type_, "message").await)
            } else {
                Err(format!(
                    "{object}: {type_}={got:?}, want ({status}, {reason})"
                ))
            }
        })
        .await
        .expect("condition reached")
    }

    /// Wait until `object`'s Ready condition has `status`; returns its message.
    pub async fn wait_ready_status(&self, object: &str, status: &str) -> String {
        wait_for(TIMEOUT, || async {
            let got = self.ready_field(object, "status").await;
            if got == status {
                Ok(self.ready_field(object, "message").await)
            } else {
                Err(format!("{object}: Ready={got:?}, want {status}"))
            }
        })
        .await
        .expect("Ready condition reached")
    }

    /// The config hash the gateway serves (from `/readyz`).
    pub async fn gateway_hash(&self) -> Option<String> {
        let response = self
            .http
            .get(format!("{}/readyz", self.gateway_url))
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["configHash"].as_str().map(str::to_string)
    }

    /// Wait until the gateway serves a hash other than `old`; returns it and how long.
    pub async fn wait_gateway_change(
        &self,
        old: Option<&str>,
        since: Instant,
    ) -> (String, Duration) {
        self.wait_gateway_change_within(old, since, TIMEOUT).await
    }

    /// [`Self::wait_gateway_change`] with a deadline of its own, for a change that takes
    /// long to compile and load (100,000 lookup rows, debug builds, beside the other tests
    /// of the binary on two cores).
    pub async fn wait_gateway_change_within(
        &self,
        old: Option<&str>,
        since: Instant,
        within: Duration,
    ) -> (String, Duration) {
        let hash = wait_for(within, || async {
            match self.gateway_hash().await {
                Some(hash) if Some(hash.as_str()) != old => Ok(hash),
                other => Err(format!("gateway serves {other:?}")),
            }
        })
        .await
        .expect("gateway swaps config");
        (hash, since.elapsed())
    }

    /// Wait until the gateway serves the hash the operator wrote to its ConfigMap.
    pub async fn wait_gateway_current(&self) -> String {
        wait_for(TIMEOUT, || async {
            let written = self
                .field(
                    "configmap/hermes-gateway-config",
                    ".metadata.annotations.hermes\\.io/config-hash",
                )
                .await;
            match self.gateway_hash().await {
                Some(serving) if !written.is_empty() && serving == written => Ok(serving),
                other => Err(format!(
                    "gateway serves {other:?}, operator wrote {written:?}"
                )),
            }
        })
        .await
        .expect("gateway serves the written config")
    }

    /// `GET PATH_AND_QUERY` on the gateway; the status.
    pub async fn get(&self, path_and_query: &str) -> reqwest::StatusCode {
        self.http
            .get(format!("{}{path_and_query}", self.gateway_url))
            .send()
            .await
            .expect("gateway answers")
            .status()
    }

    /// Up to `n` messages published to topic `name`, pulling for at most `within`.
    pub async fn messages(&self, name: &str, n: usize, within: Duration) -> Vec<ReceivedMessage> {
        self.emulator
            .pull(&subscription(name), n, within)
            .await
            .expect("pull")
    }
}
