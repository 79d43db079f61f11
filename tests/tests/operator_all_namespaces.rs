//! The operator's all-namespaces mode (`--all-namespaces`, the chart's
//! `operator.allNamespaces`): it reconciles every namespace where a Tag, Trigger or
//! LookupTable appears, including namespaces created after it started, each into its own
//! config, and leaves namespaces without Hermes objects alone.

use hermes_compiler::contract;
use hermes_tests::gateway_config::wait_config;
use hermes_tests::operator::Operator;
use hermes_tests::{TestCluster, fixtures, namespace_with_crds};
use k8s_openapi::api::core::v1::ConfigMap;

#[tokio::test]
async fn all_namespaces_mode_reconciles_each_namespace_that_gets_hermes_objects() {
    let before = namespace_with_crds("all-before").await.unwrap();
    let (trigger, tag) = fixtures::low_stock_signal();
    before.apply(&[&trigger, &tag]).await.unwrap();
    let empty = namespace_with_crds("all-empty").await.unwrap();

    let cluster = TestCluster::shared().await.unwrap();
    let mut options = hermes_operator::Options::new(Vec::new(), "all-namespaces");
    options.all_namespaces = true;
    let operator = Operator::start(cluster.client().await.unwrap(), options);

    let expect_low_stock = |c: &hermes_compiler::config::GatewayConfig| {
        if c.tags.contains_key("low-stock-signal") {
            Ok(())
        } else {
            Err(format!("tags: {:?}", c.tags.keys().collect::<Vec<_>>()))
        }
    };
    let config = wait_config(&before, expect_low_stock).await;
    assert_eq!(config.scope, before.name());

    // A namespace that gets its first objects after the operator started.
    let after = namespace_with_crds("all-after").await.unwrap();
    after.apply(&[&trigger, &tag]).await.unwrap();
    let config = wait_config(&after, expect_low_stock).await;
    assert_eq!(config.scope, after.name());

    // No Hermes objects, no config.
    let untouched = empty
        .api::<ConfigMap>()
        .get_opt(contract::DEFAULT_CONFIG_MAP)
        .await
        .unwrap();
    assert!(untouched.is_none(), "{untouched:?}");
    operator.stop().await.unwrap();
}
