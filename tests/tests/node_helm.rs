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
use hermes_tests::low_stock::assert_low_stock_hit_published;
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

#[tokio::test]
#[ignore = "needs root, the test node and the images: HERMES_TEST_NODE=1 ./scripts/test"]
async fn chart_on_a_real_node_installs_serves_hits_upgrades_and_uninstalls() {
    let node = TestNode::shared().await.unwrap();
    let cluster = node.cluster();
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

    let ns = cluster.namespace("node-helm").await.unwrap();
    let release = ns.name().to_string();
    let prefix = format!("{release}-hermes");
    let kubeconfig = cluster.kubeconfig_path();
    let helm = |action: &'static str, values: Value| {
        let (kubeconfig, namespace, release) =
            (kubeconfig.clone(), release.clone(), release.clone());
        async move {
            hermes_tests::helm::release(&kubeconfig, &namespace, &release, action, &values)
                .await
                .unwrap_or_else(|error| panic!("helm {action}: {error}"))
        }
    };

    let outcome = async {
        let installed = helm("install", values(&emulator_host, "json")).await;
        assert_eq!(installed["status"], "deployed", "{installed}");
        let instance = format!("app.kubernetes.io/instance={release}");
        kubectl(
            &ns,
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

        let examples = repo().join("examples");
        let examples = examples.to_string_lossy();
        kubectl(&ns, &["apply", "-f", &examples]).await;
        kubectl(
            &ns,
            &[
                "wait",
                "--for=condition=Ready",
                "tags,triggers,lookuptables",
                "--all",
                ROLLOUT,
            ],
        )
        .await;

        let (before, address) = gateway_pod(&ns, &release).await;
        assert_low_stock_hit_published(&format!("http://{address}"), &emulator, SUBSCRIPTION).await;

        // The pods run as the chart's ServiceAccounts, which refuse what is not their job.
        let operator = format!("system:serviceaccount:{release}:{prefix}-operator");
        let gateway = format!("system:serviceaccount:{release}:{prefix}-gateway");
        let accounts = kubectl(
            &ns,
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
        assert!(!can_i(&ns, &gateway, "patch", "tags.hermes.io").await);
        assert!(!can_i(&ns, &operator, "delete", "tags.hermes.io").await);
        assert!(can_i(&ns, &gateway, "watch", "configmaps").await);

        // An upgrade with changed values rolls the gateway pod; hits keep flowing.
        let deployment = format!("deployment/{prefix}-gateway");
        let upgraded = helm("upgrade", values(&emulator_host, "text")).await;
        assert_eq!(upgraded["revision"], 2, "{upgraded}");
        kubectl(&ns, &["rollout", "status", &deployment, ROLLOUT]).await;
        let (after, address) = gateway_pod(&ns, &release).await;
        assert_ne!(after, before, "the upgrade replaced the gateway pod");
        let args = kubectl(
            &ns,
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
        assert_low_stock_hit_published(&format!("http://{address}"), &emulator, SUBSCRIPTION).await;

        helm("uninstall", json!({})).await;
        let left = kubectl(
            &ns,
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
            &ns,
            &[
                "get",
                "crd/tags.hermes.io",
                "crd/triggers.hermes.io",
                "crd/lookuptables.hermes.io",
            ],
        )
        .await;
    };
    // On failure, show what the node and the pods said.
    if let Err(panic) = std::panic::AssertUnwindSafe(outcome).catch_unwind().await {
        node.keep_artifacts();
        eprintln!("{}", node.failure_report());
        std::panic::resume_unwind(panic);
    }
}
