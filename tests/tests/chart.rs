//! The chart on the test API server (Kubernetes 1.20), with the real Helm v4 engine
//! (`charts/tests/helm_release.py`, PyPI helm-python-sdk):
//!
//! - `helm install`, `upgrade`, `uninstall`: every rendered object is accepted, an upgrade
//!   with changed values changes the pods' template (so they roll), uninstall leaves only
//!   the CRDs; the installed namespaced RBAC confines each component to its namespace.
//! - The chart's RBAC as the end-to-end tests bind it (`tests/fixtures/rbac.yaml`, rendered
//!   from the chart by `scripts/render-test-rbac`): the end-to-end tests prove the rules
//!   suffice; this proves they go no further.
//!
//! No kubelet runs here, so no pod starts: probes, security contexts and in-cluster
//! config are for a test with a node.

use hermes_tests::stack::cluster;
use hermes_tests::{Identity, TestCluster, TestNamespace};
use serde_json::{Value, json};

/// `kubectl auth can-i VERB RESOURCE… --as USER --namespace NAMESPACE`; `resource` may
/// carry more words, e.g. `tags.hermes.io --subresource=status`.
async fn can_i(
    cluster: &TestCluster,
    namespace: &str,
    user: &str,
    verb: &str,
    resource: &str,
) -> bool {
    let user = format!("--as={user}");
    let mut args = vec!["--namespace", namespace, "auth", "can-i", verb];
    args.extend(resource.split_whitespace());
    args.push(&user);
    let output = cluster
        .kubectl_output(&args, None)
        .await
        .expect("kubectl runs");
    String::from_utf8_lossy(&output.stdout).trim() == "yes"
}

/// Each `(user, namespace, verb, resource, allowed)` that the API server decides otherwise.
async fn rbac_mismatches(
    cluster: &TestCluster,
    cases: &[(&str, &str, &str, &str, bool)],
) -> Vec<String> {
    let mut wrong = Vec::new();
    for &(user, namespace, verb, resource, allowed) in cases {
        if can_i(cluster, namespace, user, verb, resource).await != allowed {
            wrong.push(format!(
                "{user} {verb} {resource} in {namespace}: want allowed={allowed}"
            ));
        }
    }
    wrong
}

async fn helm(ns: &TestNamespace, action: &str, values: &Value) -> Value {
    let kubeconfig = ns.cluster().kubeconfig_path();
    hermes_tests::helm::release(&kubeconfig, ns.name(), ns.name(), action, values)
        .await
        .unwrap_or_else(|error| panic!("helm {action}: {error}"))
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
    // The installed (namespaced) RBAC confines each component to the release namespace.
    let operator_user = format!("system:serviceaccount:{release}:{prefix}-operator");
    let gateway_user = format!("system:serviceaccount:{release}:{prefix}-gateway");
    let (operator, gateway, here) = (
        operator_user.as_str(),
        gateway_user.as_str(),
        release.as_str(),
    );
    let wrong = rbac_mismatches(
        cluster,
        &[
            (operator, here, "watch", "tags.hermes.io", true),
            (
                operator,
                here,
                "patch",
                "tags.hermes.io --subresource=status",
                true,
            ),
            (operator, here, "patch", "leases.coordination.k8s.io", true),
            (operator, "default", "watch", "tags.hermes.io", false),
            (operator, "default", "patch", "configmaps", false),
            (operator, here, "list", "namespaces", false),
            (gateway, here, "watch", "configmaps", true),
            (gateway, here, "patch", "tags.hermes.io", false),
            (gateway, "default", "watch", "configmaps", false),
        ],
    )
    .await;
    assert!(wrong.is_empty(), "installed RBAC:\n{}", wrong.join("\n"));

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

#[tokio::test]
async fn the_charts_rules_allow_each_component_its_job_and_refuse_the_rest() {
    let cluster = cluster().await;
    let ns = cluster.namespace("chart-rbac").await.expect("namespace");
    let (gateway, operator, n) = (
        Identity::Gateway.user_name(),
        Identity::Operator.user_name(),
        ns.name(),
    );
    let cases = [
        // The gateway reads its config and keeps its report Lease; nothing else.
        (gateway, n, "watch", "configmaps", true),
        (gateway, n, "patch", "leases.coordination.k8s.io", true),
        (gateway, n, "patch", "tags.hermes.io", false),
        (gateway, n, "get", "tags.hermes.io", false),
        (gateway, n, "patch", "configmaps", false),
        (gateway, n, "get", "secrets", false),
        // The operator reads resources, patches their status, writes the config.
        (operator, n, "watch", "tags.hermes.io", true),
        (
            operator,
            n,
            "patch",
            "tags.hermes.io --subresource=status",
            true,
        ),
        (operator, n, "patch", "configmaps", true),
        (operator, n, "create", "events.events.k8s.io", true),
        (operator, n, "patch", "tags.hermes.io", false),
        (operator, n, "delete", "tags.hermes.io", false),
        // Stale config shards (a config that shrank back into one ConfigMap).
        (operator, n, "delete", "configmaps", true),
        (operator, n, "get", "secrets", false),
        (operator, n, "create", "pods", false),
        (operator, n, "list", "namespaces", false),
        // Cluster-wide, only Hermes' own CRDs, by name.
        (
            operator,
            n,
            "watch",
            "customresourcedefinitions.apiextensions.k8s.io/tags.hermes.io",
            true,
        ),
        (
            operator,
            n,
            "get",
            "customresourcedefinitions.apiextensions.k8s.io/other.example.com",
            false,
        ),
        (
            operator,
            n,
            "list",
            "customresourcedefinitions.apiextensions.k8s.io",
            false,
        ),
    ];
    let wrong = rbac_mismatches(cluster, &cases).await;
    assert!(
        wrong.is_empty(),
        "RBAC differs from the chart's intent:\n{}",
        wrong.join("\n")
    );
}
