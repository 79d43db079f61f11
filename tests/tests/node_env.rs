//! Proves the single test node (`hermes_tests::node`): it registers and turns `Ready`,
//! runs a pod hardened the way the chart's are (non-root, read-only root filesystem, no
//! capabilities, RuntimeDefault seccomp) with its service account token mounted, and
//! leaves nothing behind when it stops (containers, mounts, the bridge, the folder).
//!
//! Needs root and `tests/provision/k8s-node.sh` (builds the node binaries once), so it
//! is ignored in the default run: `HERMES_TEST_NODE=1 ./scripts/test` (and `.ci/run`)
//! run it with `--ignored`.

use std::time::Duration;

use hermes_tests::node::{PAUSE_IMAGE, TestNode};
use hermes_tests::wait_for;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

const POD_TIMEOUT: Duration = Duration::from_secs(90);

fn hardened_pause_pod() -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "hardened" },
        "spec": {
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 65532,
                "runAsGroup": 65532,
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            "containers": [{
                "name": "pause",
                "image": PAUSE_IMAGE,
                "imagePullPolicy": "Never",
                "securityContext": {
                    "readOnlyRootFilesystem": true,
                    "allowPrivilegeEscalation": false,
                    "capabilities": { "drop": ["ALL"] },
                },
            }],
        },
    }))
    .expect("a valid pod")
}

fn mounts_on(dir: &std::path::Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    let dir = dir.display().to_string();
    mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|mount| mount.starts_with(&dir))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
#[ignore = "needs root and the test node: tests/provision/k8s-node.sh, then HERMES_TEST_NODE=1 ./scripts/test"]
async fn node_runs_a_hardened_pod_with_its_token_and_leaves_nothing_behind() {
    let node = TestNode::start().await.unwrap();
    let cluster = node.cluster().clone();
    let ns = cluster.namespace("node").await.unwrap();
    let client = cluster.client().await.unwrap();

    // The controller-manager gives the namespace its `default` ServiceAccount.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns.name());
    wait_for(POD_TIMEOUT, || async {
        accounts.get("default").await.map_err(|e| e.to_string())
    })
    .await
    .unwrap();

    let pods: Api<Pod> = Api::namespaced(client, ns.name());
    let created = pods
        .create(&PostParams::default(), &hardened_pause_pod())
        .await
        .unwrap();
    let token_mounted = created.spec.iter().flat_map(|s| &s.containers).any(|c| {
        c.volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path == "/var/run/secrets/kubernetes.io/serviceaccount")
    });
    assert!(token_mounted, "no service account token mount: {created:?}");

    let running = wait_for(POD_TIMEOUT, || async {
        let pod = pods.get("hardened").await.map_err(|e| e.to_string())?;
        let status = pod.status.clone().unwrap_or_default();
        let ready = status.container_statuses.iter().flatten().all(|c| c.ready)
            && status.container_statuses.is_some();
        match (status.phase.as_deref(), ready) {
            (Some("Running"), true) => Ok(pod),
            (phase, _) => Err(format!("phase {phase:?}: {:?}", status.container_statuses)),
        }
    })
    .await;
    let running = match running {
        Ok(pod) => pod,
        Err(error) => {
            node.keep_artifacts();
            panic!("{error}\n{}", node.failure_report());
        }
    };
    let pod_ip = running.status.and_then(|s| s.pod_ip).unwrap_or_default();
    let subnet = node.network().gateway().octets();
    assert!(
        pod_ip.starts_with(&format!("{}.{}.{}.", subnet[0], subnet[1], subnet[2])),
        "pod IP {pod_ip} is not on the node's bridge {}",
        node.network().gateway()
    );

    let dir = node.dir().to_owned();
    let bridge = node.network().bridge.clone();
    assert!(
        !mounts_on(&dir).is_empty(),
        "a running pod mounts under the node folder"
    );
    drop(node);

    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert_eq!(mounts_on(&dir), Vec::<String>::new(), "mounts left behind");
    let link = std::process::Command::new("ip")
        .args(["link", "show", &bridge])
        .output()
        .unwrap();
    assert!(!link.status.success(), "bridge {bridge} is left behind");
}
