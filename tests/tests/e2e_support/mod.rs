//! The whole product as processes: `hermes-operator` and `hermes-gateway --cluster` (the
//! built binaries, with their own service-account identities and RBAC) against the real
//! kube-apiserver and Pub/Sub emulator. Each test gets its own namespace and emulator.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hermes_tests::pubsub::{PubSubEmulator, ReceivedMessage, SubscriptionOptions};
use hermes_tests::{Identity, TestCluster, TestNamespace, free_port, wait_for};
use serde_json::Value;
use tokio::process::{Child, Command};

pub const PROJECT: &str = "hermes-local";
pub const TOPICS: [&str; 5] = [
    "promotions",
    "low-stock",
    "purchases",
    "cart-activity",
    "config-publications",
];
/// Generous for a loaded two-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(60);
pub const LOW_STOCK_HIT: &str = "/g/collect?v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10";

/// A built binary of the workspace, next to this test's own executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug folder");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` (scripts/test does)",
        path.display()
    );
    path
}

pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

pub fn topic(name: &str) -> String {
    format!("projects/{PROJECT}/topics/{name}")
}

fn subscription(name: &str) -> String {
    format!("projects/{PROJECT}/subscriptions/{name}-e2e")
}

/// A running process whose output goes to a file, shown when a test fails.
pub struct Process {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &str, mut command: Command, logs: &Path) -> Process {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let err = file.try_clone().expect("log file");
        command
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Process {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGTERM, as Kubernetes stops a pod; waits for the exit and returns its status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits within 30 s of SIGTERM")
            .expect("exit status")
    }

    /// SIGKILL: a crash, nothing released.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.name);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Operator(s), a gateway replica and an emulator for one namespace.
pub struct Stack {
    pub ns: TestNamespace,
    pub emulator: PubSubEmulator,
    pub gateway: Process,
    pub gateway_url: String,
    pub operators: Vec<Process>,
    pub http: reqwest::Client,
    logs: tempfile::TempDir,
}

/// The shared cluster with CRDs and the operator/gateway RBAC installed.
pub async fn cluster() -> &'static TestCluster {
    hermes_tests::install_crypto_provider();
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

impl Stack {
    /// Start with `operators` operator processes (leader election among them).
    pub async fn start(prefix: &str, operators: usize) -> Stack {
        let cluster = cluster().await;
        let ns = cluster.namespace(prefix).await.expect("namespace");
        let emulator = PubSubEmulator::start().await.expect("emulator starts");
        for name in TOPICS {
            emulator.create_topic(&topic(name)).await.unwrap();
            emulator
                .create_subscription(
                    &subscription(name),
                    &topic(name),
                    SubscriptionOptions::default(),
                )
                .await
                .unwrap();
        }
        let logs = tempfile::tempdir().unwrap();
        let port = free_port().unwrap();
        let mut gateway = Command::new(binary("hermes-gateway"));
        gateway
            .args([
                "--cluster",
                "--namespace",
                ns.name(),
                "--replica-id",
                "gw-0",
            ])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--mp-secret", "G-SHOP=s3cret"])
            .env("KUBECONFIG", cluster.kubeconfig_for(Identity::Gateway))
            .env("PUBSUB_EMULATOR_HOST", emulator.host_port())
            .env("RUST_LOG", "info");
        let gateway = Process::spawn("gateway", gateway, logs.path());
        let mut stack = Stack {
            ns,
            emulator,
            gateway,
            gateway_url: format!("http://127.0.0.1:{port}"),
            operators: Vec::new(),
            http: reqwest::Client::new(),
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
        let mut operator = Command::new(binary("hermes-operator"));
        operator
            .args(["--namespace", self.ns.name(), "--identity", identity])
            .args(["--leader-lease-seconds", "4", "--debounce-ms", "50"])
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{}", free_port().unwrap()),
            ])
            .args(["--publication-topic", &topic("config-publications")])
            .env("KUBECONFIG", cluster.kubeconfig_for(Identity::Operator))
            .env("PUBSUB_EMULATOR_HOST", self.emulator.host_port())
            .env("RUST_LOG", "info,kube_lease_manager=warn");
        let process = Process::spawn(identity, operator, self.logs.path());
        self.operators.push(process);
    }

    /// `kubectl apply -n NS -f PATH`.
    pub async fn apply_path(&self, path: &Path) {
        self.ns
            .kubectl(&["apply", "-f", path.to_str().expect("utf-8 path")])
            .await
            .expect("kubectl apply");
    }

    /// `kubectl apply -n NS -f -` with `yaml`.
    pub async fn apply_yaml(&self, yaml: &str) {
        let output = self
            .ns
            .kubectl_output(&["apply", "-f", "-"], Some(yaml))
            .await
            .expect("kubectl runs");
        assert!(
            output.status.success(),
            "kubectl apply: {}",
            String::from_utf8_lossy(&output.stderr)
        );
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
        self.field(
            object,
            &format!(".status.conditions[?(@.type==\"Ready\")].{field}"),
        )
        .await
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
        let hash = wait_for(TIMEOUT, || async {
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

    pub async fn get(&self, path_and_query: &str) -> reqwest::StatusCode {
        self.http
            .get(format!("{}{path_and_query}", self.gateway_url))
            .send()
            .await
            .expect("gateway answers")
            .status()
    }

    pub async fn messages(&self, name: &str, n: usize, within: Duration) -> Vec<ReceivedMessage> {
        self.emulator
            .pull(&subscription(name), n, within)
            .await
            .expect("pull")
    }
}

pub fn json_of(message: &ReceivedMessage) -> Value {
    serde_json::from_slice(&message.data).expect("JSON message")
}
