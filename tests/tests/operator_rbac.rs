//! The operator and a gateway replica run as their own service accounts with only the
//! permissions below, and everything still goes live: these rules are the minimum the
//! Helm chart must grant.

mod operator_support;

use std::time::Duration;

use hermes_compiler::contract;
use hermes_crds::api::Tag;
use hermes_operator::LeaderOptions;
use hermes_tests::{Identity, TestNamespace};
use operator_support::*;

/// Cluster-wide: the operator waits for its CRDs.
const OPERATOR_CLUSTER_ROLE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: NAME-crds
rules:
  - apiGroups: [apiextensions.k8s.io]
    resources: [customresourcedefinitions]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: NAME-crds
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: NAME-crds}
subjects:
  - {kind: ServiceAccount, name: hermes-operator, namespace: hermes-system}
"#;

/// In each namespace the operator reconciles (and, for the leader Lease, its own).
const OPERATOR_ROLE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: hermes-operator
rules:
  - apiGroups: [hermes.io]
    resources: [tags, triggers, lookuptables]
    verbs: [get, list, watch]
  - apiGroups: [hermes.io]
    resources: [tags/status, triggers/status, lookuptables/status]
    verbs: [get, patch]
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get, list, watch, create, patch]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, list, watch, create, patch, update, delete]
  - apiGroups: [events.k8s.io]
    resources: [events]
    verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: hermes-operator
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: hermes-operator}
subjects:
  - {kind: ServiceAccount, name: hermes-operator, namespace: hermes-system}
"#;

/// In the gateway's namespace: read the config, keep its own Lease.
const GATEWAY_ROLE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: hermes-gateway
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get, list, watch]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, create, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: hermes-gateway
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: hermes-gateway}
subjects:
  - {kind: ServiceAccount, name: hermes-gateway, namespace: hermes-system}
"#;

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
    let ns = namespace("rbac").await;
    apply_yaml(&ns, &OPERATOR_CLUSTER_ROLE.replace("NAME", ns.name())).await;
    apply_yaml(&ns, OPERATOR_ROLE).await;
    apply_yaml(&ns, GATEWAY_ROLE).await;
    apply_yaml(&ns, SIGNAL).await;
    assert!(!can_i(&ns, Identity::Gateway, "patch", "tags.hermes.io").await);
    assert!(!can_i(&ns, Identity::Gateway, "patch", "configmaps").await);

    let cluster = ns.cluster();
    let mut options = options(&ns, "op-rbac");
    options.leader = Some(LeaderOptions {
        namespace: ns.name().to_string(),
        lease_name: contract::OPERATOR_LEASE.to_string(),
        identity: "op-rbac".to_string(),
        duration: Duration::from_secs(5),
    });
    let _operator = Operator::start(
        cluster.client_as(Identity::Operator).await.unwrap(),
        options,
    );
    let gateway = Gateway::start(
        cluster.client_as(Identity::Gateway).await.unwrap(),
        &ns,
        "gw-rbac",
    );
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    let hash = tag.status.unwrap().config_hash.unwrap();
    assert_eq!(gateway.serving().as_deref(), Some(hash.as_str()));
}
