//! The chart's RBAC (`tests/fixtures/rbac.yaml`, rendered from `charts/hermes` by
//! `scripts/render-test-rbac`) as the API server enforces it: what the operator and the
//! gateway may do, and what is refused. The end-to-end tests run both binaries with these
//! identities, which proves the rules suffice; this proves they go no further.

mod e2e_support;

use e2e_support::cluster;
use hermes_tests::{Identity, TestNamespace};

/// `kubectl auth can-i VERB RESOURCE… --as IDENTITY` in `ns`; `resource` may carry
/// more words, e.g. `tags.hermes.io --subresource=status`.
async fn can_i(ns: &TestNamespace, identity: Identity, verb: &str, resource: &str) -> bool {
    let user = format!("--as={}", identity.user_name());
    let groups: Vec<String> = identity
        .groups()
        .iter()
        .map(|group| format!("--as-group={group}"))
        .collect();
    let mut args = vec!["auth", "can-i", verb];
    args.extend(resource.split_whitespace());
    args.push(&user);
    args.extend(groups.iter().map(String::as_str));
    let output = ns.kubectl_output(&args, None).await.expect("kubectl runs");
    String::from_utf8_lossy(&output.stdout).trim() == "yes"
}

#[tokio::test]
async fn the_charts_rules_allow_each_component_its_job_and_refuse_the_rest() {
    let cluster = cluster().await;
    let ns = cluster.namespace("chart-rbac").await.expect("namespace");
    let cases: &[(Identity, &str, &str, bool)] = &[
        // The gateway reads its config and keeps its report Lease; nothing else.
        (Identity::Gateway, "watch", "configmaps", true),
        (
            Identity::Gateway,
            "patch",
            "leases.coordination.k8s.io",
            true,
        ),
        (Identity::Gateway, "patch", "tags.hermes.io", false),
        (Identity::Gateway, "get", "tags.hermes.io", false),
        (Identity::Gateway, "patch", "configmaps", false),
        (Identity::Gateway, "get", "secrets", false),
        // The operator reads resources, patches their status, writes the config.
        (Identity::Operator, "watch", "tags.hermes.io", true),
        (
            Identity::Operator,
            "patch",
            "tags.hermes.io --subresource=status",
            true,
        ),
        (Identity::Operator, "patch", "configmaps", true),
        (Identity::Operator, "create", "events.events.k8s.io", true),
        (Identity::Operator, "patch", "tags.hermes.io", false),
        (Identity::Operator, "delete", "tags.hermes.io", false),
        (Identity::Operator, "delete", "configmaps", false),
        (Identity::Operator, "get", "secrets", false),
        (Identity::Operator, "create", "pods", false),
        // Cluster-wide, only Hermes' own CRDs, by name.
        (
            Identity::Operator,
            "watch",
            "customresourcedefinitions.apiextensions.k8s.io/tags.hermes.io",
            true,
        ),
        (
            Identity::Operator,
            "get",
            "customresourcedefinitions.apiextensions.k8s.io/other.example.com",
            false,
        ),
        (
            Identity::Operator,
            "list",
            "customresourcedefinitions.apiextensions.k8s.io",
            false,
        ),
        (Identity::Operator, "list", "namespaces", false),
    ];
    let mut wrong = Vec::new();
    for &(identity, verb, resource, allowed) in cases {
        if can_i(&ns, identity, verb, resource).await != allowed {
            wrong.push(format!(
                "{identity:?} {verb} {resource}: want allowed={allowed}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "RBAC differs from the chart's intent:\n{}",
        wrong.join("\n")
    );
}
