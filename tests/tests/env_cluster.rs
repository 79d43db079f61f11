//! Proves the test environment: a real kube-apiserver takes the Hermes CRDs, server-side
//! apply, status subresource patches and kubectl, and namespaces keep tests apart.

use std::time::Duration;

use hermes_crds::api::{ResourceStatus, StatusCondition, Tag};
use hermes_tests::fixtures::{self, TagFixture};
use hermes_tests::{
    FIELD_MANAGER, Identity, TestCluster, TestNamespace, hermes_crds, namespace_with_crds, wait_for,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

/// A Tag fired by `all-pages` publishing to `topic`.
fn tag(name: &str, topic: &str) -> Tag {
    fixtures::tag(name).fired_by("all-pages").topic(topic)
}

async fn apply_tag(ns: &TestNamespace, tag: &Tag) -> Tag {
    ns.api::<Tag>()
        .patch(
            &tag.name_any(),
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(tag),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn hermes_crds_apply_and_become_established() {
    let cluster = TestCluster::shared().await.unwrap();
    cluster.apply_crds().await.unwrap();
    cluster.apply_crds().await.unwrap(); // idempotent
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client().await.unwrap());
    for crd in hermes_crds() {
        let name = crd.metadata.name.unwrap();
        let live = api.get(&name).await.unwrap();
        let conditions = live.status.unwrap().conditions.unwrap();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"),
            "{name}: {conditions:?}"
        );
        assert!(
            live.spec
                .versions
                .iter()
                .any(|v| v.name == "v1alpha1" && v.subresources.is_some())
        );
    }
}

#[tokio::test]
async fn tag_created_by_server_side_apply_reads_back_with_its_spec() {
    let ns = namespace_with_crds("ssa").await.unwrap();
    let applied = apply_tag(&ns, &tag("page-view", "projects/p/topics/views")).await;
    assert_eq!(applied.metadata.generation, Some(1));

    let read = ns.api::<Tag>().get("page-view").await.unwrap();
    assert_eq!(read.spec.topic, "projects/p/topics/views");
    assert_eq!(read.spec.firing_triggers, ["all-pages"]);
    let managers: Vec<_> = read
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(managers.contains(&FIELD_MANAGER.to_owned()), "{managers:?}");
}

#[tokio::test]
async fn invalid_tag_is_rejected_by_the_crd_schema() {
    let ns = namespace_with_crds("schema").await.unwrap();
    let error = ns
        .api::<Tag>()
        .patch(
            "bad-topic",
            &PatchParams::apply(FIELD_MANAGER),
            // A topic is a bare name or projects/P/topics/T, never another path.
            &Patch::Apply(&tag("bad-topic", "projects/p/subscriptions/carts")),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("spec.topic"), "{error}");
}

#[tokio::test]
async fn status_subresource_patch_sticks_and_survives_spec_changes() {
    let ns = namespace_with_crds("status").await.unwrap();
    let api = ns.api::<Tag>();
    apply_tag(&ns, &tag("purchase", "projects/p/topics/orders")).await;

    let status = ResourceStatus {
        observed_generation: Some(1),
        conditions: vec![StatusCondition {
            type_: "Ready".to_owned(),
            status: "True".to_owned(),
            reason: "Live".to_owned(),
            message: "served by every gateway".to_owned(),
            ..StatusCondition::default()
        }],
        live_generation: Some(1),
        ..ResourceStatus::default()
    };
    let patch = json!({ "apiVersion": "hermes.io/v1alpha1", "kind": "Tag", "status": status });
    api.patch_status(
        "purchase",
        &PatchParams::apply("hermes-operator").force(),
        &Patch::Apply(&patch),
    )
    .await
    .unwrap();

    // A spec change bumps the generation and leaves the status alone.
    let updated = apply_tag(&ns, &tag("purchase", "projects/p/topics/orders-v2")).await;
    assert_eq!(updated.metadata.generation, Some(2));
    assert_eq!(updated.status, Some(status));
}

#[tokio::test]
async fn kubectl_lists_tags_with_the_printer_columns() {
    let ns = namespace_with_crds("kubectl").await.unwrap();
    apply_tag(&ns, &tag("add-to-cart", "projects/p/topics/carts")).await;

    let table = ns.kubectl(&["get", "tags"]).await.unwrap();
    let mut lines = table.lines();
    let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "TOPIC",
            "LIVE",
            "GENERATION",
            "REASON",
            "AGE"
        ],
        "{table}"
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("add-to-cart "), "{table}");
    assert!(row.contains("projects/p/topics/carts"), "{table}");
    // -o wide adds the firing triggers.
    let wide = ns.kubectl(&["get", "tags", "-o", "wide"]).await.unwrap();
    assert!(
        wide.contains("TRIGGERS") && wide.contains("all-pages"),
        "{wide}"
    );
}

#[tokio::test]
async fn namespaces_keep_tests_apart() {
    let first = namespace_with_crds("isolation").await.unwrap();
    let second = namespace_with_crds("isolation").await.unwrap();
    assert_ne!(first.name(), second.name());
    apply_tag(&first, &tag("only-here", "projects/p/topics/t")).await;

    let in_second = second
        .api::<Tag>()
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(in_second.items.is_empty());
    let in_first = first
        .api::<Tag>()
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(in_first.items.len(), 1);
}

#[tokio::test]
async fn dropped_namespace_is_deleted() {
    let cluster = TestCluster::shared().await.unwrap();
    let ns = cluster.namespace("dropped").await.unwrap();
    let name = ns.name().to_owned();
    drop(ns);
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
        Api::all(cluster.client().await.unwrap());
    wait_for(Duration::from_secs(10), || async {
        match namespaces.get_opt(&name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(ns) if ns.metadata.deletion_timestamp.is_some() => Ok(()),
            Some(ns) => Err(format!("namespace {name} still active: {:?}", ns.status)),
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn service_account_identities_authenticate_and_rbac_applies_to_them() {
    let ns = namespace_with_crds("rbac").await.unwrap();
    for identity in [
        Identity::Operator,
        Identity::Gateway,
        Identity::Unprivileged,
    ] {
        let client = ns.cluster().client_as(identity).await.unwrap();
        let tags: Api<Tag> = Api::namespaced(client, ns.name());
        let error = tags.list(&ListParams::default()).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("forbidden"), "{identity:?}: {message}");
        assert!(
            message.contains(identity.user_name()),
            "{identity:?}: {message}"
        );
    }
}
