//! `helm install`, `upgrade` and `uninstall` of `charts/hermes` with the real Helm v4
//! engine (`charts/tests/helm_release.py`, PyPI helm-python-sdk) against the test API
//! server (Kubernetes 1.20): every object the chart renders is accepted, an upgrade with
//! changed values changes the pods' template (so they roll), and uninstall removes
//! everything but the CRDs. No kubelet runs here, so no pod starts: that the pods pass
//! their probes is for a test with a node.

mod e2e_support;

use std::path::PathBuf;

use e2e_support::cluster;
use hermes_tests::TestNamespace;
use serde_json::{Value, json};

/// The Python environment `scripts/python-env` makes (`HERMES_VENV` overrides).
fn python() -> PathBuf {
    let venv = std::env::var("HERMES_VENV").unwrap_or_else(|_| "/var/cache/hermes/venv".into());
    let python = PathBuf::from(venv).join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-env (scripts/test does)",
        python.display()
    );
    python
}

async fn helm(ns: &TestNamespace, action: &str, values: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/tests/helm_release.py");
    let kubeconfig = ns.cluster().kubeconfig_path();
    let output = tokio::process::Command::new(python())
        .arg(&script)
        .arg(action)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--namespace", ns.name(), "--release", ns.name()])
        .args(["--values", &values.to_string()])
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "helm {action}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("release summary JSON")
}

async fn get_json(ns: &TestNamespace, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend(["-o", "json"]);
    serde_json::from_str(&ns.kubectl(&args).await.expect("kubectl get")).expect("JSON")
}

#[tokio::test]
async fn helm_install_upgrade_and_uninstall_leave_only_the_crds() {
    let cluster = cluster().await;
    let ns = cluster.namespace("chart-install").await.expect("namespace");
    let release = ns.name().to_string();
    let prefix = format!("{release}-hermes");
    let values = json!({
        "pubsub": {"emulatorHost": "127.0.0.1:8085"},
        "gateway": {"mpSecrets": {"existingSecret": "hermes-mp"}},
    });

    let installed = helm(&ns, "install", &values).await;
    assert_eq!(installed["revision"], 1, "{installed}");
    assert_eq!(installed["status"], "deployed", "{installed}");
    let instance = format!("app.kubernetes.io/instance={release}");
    let deployments = get_json(&ns, &["deployments", "-l", &instance]).await;
    let mut accounts: Vec<(String, String)> = deployments["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap().to_string(),
                d["spec"]["template"]["spec"]["serviceAccountName"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    accounts.sort();
    assert_eq!(
        accounts,
        [
            (format!("{prefix}-gateway"), format!("{prefix}-gateway")),
            (format!("{prefix}-operator"), format!("{prefix}-operator")),
        ]
    );
    let namespaced = "serviceaccounts,roles,rolebindings,services,poddisruptionbudgets";
    let objects = get_json(&ns, &[namespaced, "-l", &instance]).await;
    assert_eq!(
        objects["items"].as_array().unwrap().len(),
        2 + 2 + 2 + 2 + 2
    );
    let gateway = format!("deployment/{prefix}-gateway");
    let before = get_json(&ns, &[&gateway]).await;

    let changed = json!({
        "pubsub": {"emulatorHost": "127.0.0.1:8085"},
        "gateway": {"mpSecrets": {"existingSecret": "hermes-mp"}, "logFormat": "text", "replicas": 3},
    });
    let upgraded = helm(&ns, "upgrade", &changed).await;
    assert_eq!(upgraded["revision"], 2, "{upgraded}");
    assert_eq!(upgraded["status"], "deployed", "{upgraded}");
    let after = get_json(&ns, &[&gateway]).await;
    assert_eq!(after["spec"]["replicas"], 3);
    assert!(
        after["metadata"]["generation"].as_i64() > before["metadata"]["generation"].as_i64(),
        "the Deployment changed"
    );
    let args = &after["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .contains(&json!("--log-format=text")),
        "the pod template changed, so the pods roll: {args}"
    );

    helm(&ns, "uninstall", &json!({})).await;
    let left = get_json(
        &ns,
        &[&format!("deployments,{namespaced}"), "-l", &instance],
    )
    .await;
    assert_eq!(
        left["items"],
        json!([]),
        "uninstall removes the release's objects"
    );
    let cluster_roles = get_json(&ns, &["clusterroles,clusterrolebindings", "-l", &instance]).await;
    assert_eq!(cluster_roles["items"], json!([]));
    ns.kubectl(&[
        "get",
        "crd/tags.hermes.io",
        "crd/triggers.hermes.io",
        "crd/lookuptables.hermes.io",
    ])
    .await
    .expect("the CRDs stay (Helm's convention)");
}
