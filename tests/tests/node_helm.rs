//! The chart installed the way users do, on a real node (`hermes_tests::node`): pods run
//! with the chart's hardening, probes, ServiceAccounts and in-cluster config.
//!
//! `helm install` with the locally built images → both Deployments Available →
//! `kubectl apply -f examples/` → every object Ready → a hit sent to the gateway pod is
//! published to the emulator (listening on the node's bridge address) → an action
//! outside a component's rules is refused → `helm upgrade` with changed values rolls the
//! pods and the hit path keeps working → `helm uninstall` leaves only the CRDs.
//!
//! Needs root, the node (`tests/provision/k8s-node.sh`) and the images
//! (`scripts/build-images`), so it is ignored in the default run:
//! `HERMES_TEST_NODE=1 ./scripts/test` (and `.ci/run`) run it with `--ignored`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use hermes_tests::low_stock::{LOW_STOCK_HIT, assert_low_stock_hit_published};
use hermes_tests::node::TestNode;
use hermes_tests::pubsub::{PubSubEmulator, SubscriptionOptions};
use hermes_tests::{TestNamespace, free_port, wait_for};
use serde_json::{Value, json};

const TOPIC: &str = "projects/hermes-local/topics/low-stock";
const SUBSCRIPTION: &str = "projects/hermes-local/subscriptions/low-stock-node";
const ROLLOUT: &str = "--timeout=240s";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Saves `image` from podman (where `scripts/build-images` put it) and loads it into
/// the node.
async fn load_image(node: &TestNode, image: &str, archives: &Path) {
    let archive = archives.join(format!("{}.tar", image.replace(['/', ':'], "_")));
    let saved = tokio::process::Command::new("podman")
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(&archive)
        .arg(image)
        .output()
        .await
        .expect("podman runs");
    assert!(
        saved.status.success(),
        "podman save {image} (run scripts/build-images): {}",
        String::from_utf8_lossy(&saved.stderr)
    );
    node.load_image(&archive).await.unwrap();
}

fn values(emulator_host: &str, log_format: &str) -> Value {
    let image =
        |repository: &str| json!({"repository": repository, "tag": "dev", "pullPolicy": "Never"});
    json!({
        "pubsub": {"emulatorHost": emulator_host},
        "operator": {"image": image("localhost/hermes-operator"), "replicas": 1},
        "gateway": {
            "image": image("localhost/hermes-gateway"),
            "replicas": 1,
            "logFormat": log_format,
        },
    })
}

async fn kubectl(ns: &TestNamespace, args: &[&str]) -> String {
    ns.kubectl(args)
        .await
        .unwrap_or_else(|error| panic!("kubectl {args:?}: {error}"))
}

/// The running gateway pod's name and `IP:8080`, once exactly one is Ready and not
/// terminating.
async fn gateway_pod(ns: &TestNamespace, release: &str) -> (String, String) {
    let selector =
        format!("app.kubernetes.io/instance={release},app.kubernetes.io/component=gateway");
    wait_for(Duration::from_secs(120), || async {
        let pods: Value = serde_json::from_str(
            &ns.kubectl(&["get", "pods", "-l", &selector, "-o", "json"])
                .await
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let ready: Vec<&Value> = pods["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
            .filter(|pod| {
                pod["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
            .collect();
        match ready.as_slice() {
            [pod] => Ok((
                pod["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                format!(
                    "{}:8080",
                    pod["status"]["podIP"].as_str().unwrap_or_default()
                ),
            )),
            other => Err(format!("{} ready gateway pods", other.len())),
        }
    })
    .await
    .unwrap()
}

async fn can_i(ns: &TestNamespace, user: &str, verb: &str, resource: &str) -> bool {
    let user = format!("--as={user}");
    let output = ns
        .cluster()
        .kubectl_output(
            &[
                "--namespace",
                ns.name(),
                "auth",
                "can-i",
                verb,
                resource,
                &user,
            ],
            None,
        )
        .await
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "yes"
}

/// One release's test bed on the shared node: the images loaded, an emulator the pods
/// reach on the bridge address with the examples' topics, and a namespace for the release.
struct Rig {
    node: &'static TestNode,
    emulator: PubSubEmulator,
    emulator_host: String,
    ns: TestNamespace,
    release: String,
    prefix: String,
}

impl Rig {
    async fn new(namespace: &str) -> Self {
        let node = TestNode::shared().await.unwrap();
        let archives = tempfile::tempdir().unwrap();
        load_image(node, "localhost/hermes-gateway:dev", archives.path()).await;
        load_image(node, "localhost/hermes-operator:dev", archives.path()).await;

        let port = free_port().unwrap();
        let emulator = PubSubEmulator::start_on_all_addresses(port).await.unwrap();
        // Where the pods reach it: the bridge address.
        let emulator_host = format!("{}:{port}", node.network().gateway());
        // Every topic the examples publish to, and a subscription on the one the hit goes to.
        for name in hermes_tests::stack::TOPICS {
            emulator
                .create_topic(&hermes_tests::fixtures::topic(name))
                .await
                .unwrap();
        }
        emulator
            .create_subscription(SUBSCRIPTION, TOPIC, SubscriptionOptions::default())
            .await
            .unwrap();

        let ns = node.cluster().namespace(namespace).await.unwrap();
        let release = ns.name().to_string();
        let prefix = format!("{release}-hermes");
        Self {
            node,
            emulator,
            emulator_host,
            ns,
            release,
            prefix,
        }
    }

    /// `helm ACTION` of the release with `values`; Helm's JSON answer.
    async fn helm(&self, action: &str, values: Value) -> Value {
        let kubeconfig = self.node.cluster().kubeconfig_path();
        hermes_tests::helm::release(&kubeconfig, &self.release, &self.release, action, &values)
            .await
            .unwrap_or_else(|error| panic!("helm {action}: {error}"))
    }

    /// `kubectl apply -f examples/`, then every object Ready.
    async fn apply_examples(&self) {
        let examples = repo().join("examples");
        let examples = examples.to_string_lossy();
        kubectl(&self.ns, &["apply", "-f", &examples]).await;
        kubectl(
            &self.ns,
            &[
                "wait",
                "--for=condition=Ready",
                "tags,triggers,lookuptables",
                "--all",
                ROLLOUT,
            ],
        )
        .await;
    }

    /// Runs the test's steps; on failure, shows what the node and the pods said.
    async fn run(&self, steps: impl std::future::Future<Output = ()>) {
        if let Err(panic) = std::panic::AssertUnwindSafe(steps).catch_unwind().await {
            self.node.keep_artifacts();
            eprintln!("{}", self.ns.failure_report().await);
            eprintln!("{}", self.node.failure_report());
            std::panic::resume_unwind(panic);
        }
    }
}

#[tokio::test]
#[ignore = "needs root, the test node and the images: HERMES_TEST_NODE=1 ./scripts/test"]
async fn chart_on_a_real_node_installs_serves_hits_upgrades_and_uninstalls() {
    let rig = Rig::new("node-helm").await;
    let (ns, release, prefix) = (&rig.ns, &rig.release, &rig.prefix);
    rig.run(async {
        let installed = rig
            .helm("install", values(&rig.emulator_host, "json"))
            .await;
        assert_eq!(installed["status"], "deployed", "{installed}");
        let instance = format!("app.kubernetes.io/instance={release}");
        kubectl(
            ns,
            &[
                "wait",
                "--for=condition=Available",
                "deployment",
                "-l",
                &instance,
                ROLLOUT,
            ],
        )
        .await;

        rig.apply_examples().await;

        let (before, address) = gateway_pod(ns, release).await;
        assert_low_stock_hit_published(&format!("http://{address}"), &rig.emulator, SUBSCRIPTION)
            .await;

        // The pods run as the chart's ServiceAccounts, which refuse what is not their job.
        let operator = format!("system:serviceaccount:{release}:{prefix}-operator");
        let gateway = format!("system:serviceaccount:{release}:{prefix}-gateway");
        let accounts = kubectl(
            ns,
            &[
                "get",
                "pods",
                "-o",
                "jsonpath={.items[*].spec.serviceAccountName}",
            ],
        )
        .await;
        let mut accounts: Vec<&str> = accounts.split_whitespace().collect();
        accounts.sort();
        assert_eq!(
            accounts,
            [format!("{prefix}-gateway"), format!("{prefix}-operator")]
        );
        assert!(!can_i(ns, &gateway, "patch", "tags.hermes.io").await);
        assert!(!can_i(ns, &operator, "delete", "tags.hermes.io").await);
        assert!(can_i(ns, &gateway, "watch", "configmaps").await);

        // An upgrade with changed values rolls the gateway pod; hits keep flowing.
        let deployment = format!("deployment/{prefix}-gateway");
        let upgraded = rig
            .helm("upgrade", values(&rig.emulator_host, "text"))
            .await;
        assert_eq!(upgraded["revision"], 2, "{upgraded}");
        kubectl(ns, &["rollout", "status", &deployment, ROLLOUT]).await;
        let (after, address) = gateway_pod(ns, release).await;
        assert_ne!(after, before, "the upgrade replaced the gateway pod");
        let args = kubectl(
            ns,
            &[
                "get",
                "pod",
                &after,
                "-o",
                "jsonpath={.spec.containers[0].args}",
            ],
        )
        .await;
        assert!(args.contains("--log-format=text"), "{args}");
        assert_low_stock_hit_published(&format!("http://{address}"), &rig.emulator, SUBSCRIPTION)
            .await;

        rig.helm("uninstall", json!({})).await;
        let left = kubectl(
            ns,
            &[
                "get",
                "deployments,serviceaccounts,roles,rolebindings,services",
                "-l",
                &instance,
                "-o",
                "name",
            ],
        )
        .await;
        assert_eq!(left.trim(), "", "uninstall removes the release's objects");
        kubectl(
            ns,
            &[
                "get",
                "crd/tags.hermes.io",
                "crd/triggers.hermes.io",
                "crd/lookuptables.hermes.io",
            ],
        )
        .await;
    })
    .await;
}

/// Pod `name`'s UID, or `None` while no pod of that name exists.
async fn pod_uid(ns: &TestNamespace, name: &str) -> Option<String> {
    let uid = ns
        .kubectl(&[
            "get",
            "pod",
            name,
            "--ignore-not-found",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .await
        .unwrap_or_default();
    (!uid.trim().is_empty()).then(|| uid.trim().to_owned())
}

#[tokio::test]
#[ignore = "needs root, the test node and the images: HERMES_TEST_NODE=1 ./scripts/test"]
async fn with_buffer_persistence_hits_accepted_before_the_pod_is_deleted_are_published_by_its_successor()
 {
    const HITS: usize = 20;
    let rig = Rig::new("node-buffer").await;
    let (ns, release, prefix) = (&rig.ns, &rig.release, &rig.prefix);
    // The node has no volume provisioner: a hostPath PersistentVolume of a class of its
    // own stands in for the cloud disk the claim template asks for.
    let disk = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        disk.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let class = format!("{release}-disk");
    let volume = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": class},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": class,
            "hostPath": {"path": disk.path(), "type": "Directory"},
        },
    });
    rig.run(async {
        ns.cluster()
            .kubectl_output(&["apply", "-f", "-"], Some(&volume.to_string()))
            .await
            .unwrap();
        let mut values = values(&rig.emulator_host, "json");
        values["gateway"]["buffer"] = json!({
            "persistence": {"enabled": true, "storageClassName": class, "size": "1Gi"},
        });
        // Short: with Pub/Sub frozen the pod could not flush at SIGTERM anyway.
        values["gateway"]["shutdown"] = json!({"delaySeconds": 0, "flushTimeoutSeconds": 1});
        values["gateway"]["terminationGracePeriodSeconds"] = json!(16);
        let installed = rig.helm("install", values).await;
        assert_eq!(installed["status"], "deployed", "{installed}");
        let statefulset = format!("statefulset/{prefix}-gateway");
        kubectl(ns, &["rollout", "status", &statefulset, ROLLOUT]).await;
        rig.apply_examples().await;
        let (pod, address) = gateway_pod(ns, release).await;
        assert_eq!(pod, format!("{prefix}-gateway-0"));
        assert_low_stock_hit_published(&format!("http://{address}"), &rig.emulator, SUBSCRIPTION)
            .await;

        // Pub/Sub stops answering: hits are accepted into the buffer on the claim only.
        rig.emulator.signal("STOP").unwrap();
        let client = reqwest::Client::new();
        // Distinct hits: the event id is derived from the event, so equal hits share one.
        for n in 0..HITS {
            let response = client
                .get(format!("http://{address}{LOW_STOCK_HIT}&ep.n={n}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 204, "the hit is accepted");
        }
        // What the pod accepted lies on the claim's volume (the buffer's segment files).
        let on_disk = walkdir_bytes(disk.path());
        assert!(on_disk > 0, "the buffer writes to the claim");
        let before = pod_uid(ns, &pod).await.expect("the gateway pod exists");
        kubectl(ns, &["delete", "pod", &pod, "--wait=false"]).await;
        // The pod is gone (not just terminating) before Pub/Sub answers again, so only
        // its successor can publish what it accepted.
        wait_for(Duration::from_secs(60), || async {
            match pod_uid(ns, &pod).await {
                Some(uid) if uid == before => Err("the old pod still exists".to_owned()),
                _ => Ok(()),
            }
        })
        .await
        .unwrap();
        rig.emulator.signal("CONT").unwrap();

        let (successor, address) = gateway_pod(ns, release).await;
        assert_eq!(
            successor, pod,
            "the StatefulSet recreates the same pod name"
        );
        assert_ne!(pod_uid(ns, &pod).await, Some(before), "a new pod");
        // At least once: a publish request the old pod sent into the frozen emulator may
        // land too, so count distinct event ids.
        let mut ids = std::collections::BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while ids.len() < HITS && tokio::time::Instant::now() < deadline {
            for message in rig.emulator.pull_once(SUBSCRIPTION, 100).await.unwrap() {
                ids.insert(message.attributes.get("hermes_event_id").cloned());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            ids.len(),
            HITS,
            "every accepted hit is published once or more: {ids:?}"
        );
        // The successor replayed the claim: it published though it accepted no hit.
        let metrics = reqwest::get(format!("http://{address}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let published: f64 = metrics
            .lines()
            .filter(|line| line.starts_with("hermes_publish_messages_published_total"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(
            published >= 1.0,
            "the successor published the replayed hits:\n{metrics}"
        );
        rig.helm("uninstall", json!({})).await;
        kubectl(ns, &["delete", "pvc", "--all"]).await;
        ns.cluster()
            .kubectl(&["delete", "persistentvolume", &class])
            .await
            .unwrap();
    })
    .await;
}

/// Bytes of every file under `dir`.
fn walkdir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => walkdir_bytes(&entry.path()),
            _ => entry.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
