//! The operator and a gateway replica run as their own service accounts with only the
//! permissions below, and everything still goes live: these rules are the minimum the
//! Helm chart must grant.

use std::time::Duration;

use hermes_crds::api::Tag;
use hermes_tests::gateway_watcher::GatewayWatcher;
use hermes_tests::operator::{Operator, elected};
use hermes_tests::status::wait_ready;
use hermes_tests::{Identity, SYSTEM_NAMESPACE, TestNamespace, fixtures, namespace_with_crds};
use serde_json::{Value, json};

/// Verbs on resources of API groups.
struct Rule {
    api_groups: &'static [&'static str],
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
}

/// Cluster-wide: the operator waits for its CRDs.
const OPERATOR_CLUSTER_RULES: &[Rule] = &[Rule {
    api_groups: &["apiextensions.k8s.io"],
    resources: &["customresourcedefinitions"],
    verbs: &["get", "list", "watch"],
}];

/// In each namespace the operator reconciles (and, for the leader Lease, its own).
const OPERATOR_RULES: &[Rule] = &[
    Rule {
        api_groups: &["hermes.io"],
        resources: &["tags", "triggers", "lookuptables"],
        verbs: &["get", "list", "watch"],
    },
    Rule {
        api_groups: &["hermes.io"],
        resources: &["tags/status", "triggers/status", "lookuptables/status"],
        verbs: &["get", "patch"],
    },
    // The config, its shards when it needs several ConfigMaps (deleted once stale).
    Rule {
        api_groups: &[""],
        resources: &["configmaps"],
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
    },
    Rule {
        api_groups: &["coordination.k8s.io"],
        resources: &["leases"],
        verbs: &[
            "get", "list", "watch", "create", "patch", "update", "delete",
        ],
    },
    Rule {
        api_groups: &["events.k8s.io"],
        resources: &["events"],
        verbs: &["create", "patch"],
    },
    // Lookup feeds store rows in the table (`docs/lookup-feeds.md`).
    Rule {
        api_groups: &["hermes.io"],
        resources: &["lookuptables"],
        verbs: &["patch"],
    },
];

/// In the gateway's namespace: read the config, keep its own Lease.
const GATEWAY_RULES: &[Rule] = &[
    Rule {
        api_groups: &[""],
        resources: &["configmaps"],
        verbs: &["get", "list", "watch"],
    },
    Rule {
        api_groups: &["coordination.k8s.io"],
        resources: &["leases"],
        verbs: &["get", "create", "patch", "delete"],
    },
];

/// A `role_kind` (`Role` or `ClusterRole`) named `name` with `rules`, and its binding to
/// `service_account` in the system namespace.
fn grant(role_kind: &str, name: &str, rules: &[Rule], service_account: &str) -> [Value; 2] {
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| json!({"apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs}))
        .collect();
    let api_version = "rbac.authorization.k8s.io/v1";
    [
        json!({
            "apiVersion": api_version,
            "kind": role_kind,
            "metadata": {"name": name},
            "rules": rules,
        }),
        json!({
            "apiVersion": api_version,
            "kind": format!("{role_kind}Binding"),
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
            "subjects": [{
                "kind": "ServiceAccount",
                "name": service_account,
                "namespace": SYSTEM_NAMESPACE,
            }],
        }),
    ]
}

async fn can_i(ns: &TestNamespace, identity: Identity, verb: &str, resource: &str) -> bool {
    let user = format!("--as={}", identity.user_name());
    let output = ns
        .kubectl_output(&["auth", "can-i", verb, resource, &user], None)
        .await
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "yes"
}

#[tokio::test]
async fn operator_and_gateway_go_live_with_least_privilege() {
    let ns = namespace_with_crds("rbac").await.unwrap();
    let crds_role = format!("{}-crds", ns.name());
    let [crds, crds_binding] = grant(
        "ClusterRole",
        &crds_role,
        OPERATOR_CLUSTER_RULES,
        "hermes-operator",
    );
    let [operator_role, operator_binding] =
        grant("Role", "hermes-operator", OPERATOR_RULES, "hermes-operator");
    let [gateway_role, gateway_binding] =
        grant("Role", "hermes-gateway", GATEWAY_RULES, "hermes-gateway");
    let (trigger, tag) = fixtures::low_stock_signal();
    ns.apply(&[
        &crds,
        &crds_binding,
        &operator_role,
        &operator_binding,
        &gateway_role,
        &gateway_binding,
        &trigger,
        &tag,
    ])
    .await
    .unwrap();
    assert!(!can_i(&ns, Identity::Gateway, "patch", "tags.hermes.io").await);
    assert!(!can_i(&ns, Identity::Gateway, "patch", "configmaps").await);

    let cluster = ns.cluster();
    let _operator = Operator::start(
        cluster.client_as(Identity::Operator).await.unwrap(),
        elected(&ns, "op-rbac", Duration::from_secs(5)),
    );
    let gateway = GatewayWatcher::start(
        cluster.client_as(Identity::Gateway).await.unwrap(),
        &ns,
        "gw-rbac",
    );
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    let hash = tag.status.unwrap().config_hash.unwrap();
    assert_eq!(gateway.serving().as_deref(), Some(hash.as_str()));
}
