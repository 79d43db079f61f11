//! The operator against a real kube-apiserver: statuses say whether each object is live
//! on the gateways (fake gateway Leases here, real gateway config watchers elsewhere),
//! name the field at fault, heal, and stay still when nothing changes.

use std::time::Duration;

use hermes_compiler::contract;
use hermes_crds::api::{RECONCILING, STALLED, Tag, Trigger};
use hermes_tests::fixtures::{self, TagFixture, TriggerFixture, event_data};
use hermes_tests::gateway_config::{config_map, wait_config};
use hermes_tests::gateway_report::write_gateway_lease;
use hermes_tests::gateway_watcher::{GatewayWatcher, low_stock_tag_with_a_gateway};
use hermes_tests::hung_request::{HungRequest, status_write};
use hermes_tests::operator::{Operator, options};
use hermes_tests::status::{condition, field_managers, ready, wait_ready};
use hermes_tests::{TIMEOUT, namespace_with_crds, wait_for};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::ListParams;

#[tokio::test]
async fn tag_awaits_a_gateway_then_is_ready_once_every_fresh_replica_serves_its_config() {
    let ns = namespace_with_crds("live").await.unwrap();
    let (trigger, tag) = fixtures::low_stock_signal();
    ns.apply(&[&trigger, &tag]).await.unwrap();
    let _operator = Operator::start(ns.client(), options(&ns, "op"));

    // Compiled and written, but no gateway reports: AwaitingGateway, Reconciling.
    let config = wait_config(&ns, |c| {
        c.tags
            .contains_key("low-stock-signal")
            .then_some(())
            .ok_or_else(|| "tag not in config yet".to_string())
    })
    .await;
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "False", "AwaitingGateway").await;
    let status = tag.status.clone().unwrap();
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(condition(&status, RECONCILING).unwrap().status, "True");
    assert_eq!(status.live_generation, None);

    // A fresh replica serving the hash: Ready, with the live generation and hash.
    write_gateway_lease(&ns, "gw-a", Some(&config.hash), 0, 30)
        .await
        .unwrap();
    // A replica that stopped reporting long ago, on an old config, does not block.
    write_gateway_lease(&ns, "gw-dead", Some("sha256:old"), 120, 10)
        .await
        .unwrap();
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    let status = tag.status.clone().unwrap();
    assert_eq!(status.live_generation, Some(1));
    assert_eq!(status.config_hash.as_deref(), Some(config.hash.as_str()));
    assert!(condition(&status, RECONCILING).is_none());
    // kstatus-compatible: kubectl wait agrees.
    ns.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "tag/low-stock-signal",
        "--timeout=20s",
    ])
    .await
    .expect("kubectl wait sees Ready");

    // A fresh replica still on the old config keeps the new generation from being live.
    write_gateway_lease(&ns, "gw-b", Some(&config.hash), 0, 30)
        .await
        .unwrap();
    let item_sku = fixtures::low_stock_signal_tag().field("sku", event_data("item_sku"));
    ns.apply(&[&item_sku]).await.unwrap();
    let changed = wait_config(&ns, |c| {
        (c.hash != config.hash)
            .then_some(())
            .ok_or_else(|| "config unchanged".to_string())
    })
    .await;
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "False", "Propagating").await;
    let status = tag.status.clone().unwrap();
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(
        status.live_generation,
        Some(1),
        "the old generation is what is live"
    );
    let message = &ready(Some(&status)).unwrap().message;
    assert!(
        message.contains("gw-a") && message.contains("gw-b"),
        "{message}"
    );

    write_gateway_lease(&ns, "gw-a", Some(&changed.hash), 0, 30)
        .await
        .unwrap();
    write_gateway_lease(&ns, "gw-b", Some(&changed.hash), 0, 30)
        .await
        .unwrap();
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    assert_eq!(tag.status.unwrap().live_generation, Some(2));
}

#[tokio::test]
async fn replica_that_stops_reporting_stops_blocking_when_its_lease_expires() {
    let ns = namespace_with_crds("expiry").await.unwrap();
    let (trigger, tag) = fixtures::low_stock_signal();
    ns.apply(&[&trigger, &tag]).await.unwrap();
    let _operator = Operator::start(ns.client(), options(&ns, "op"));
    let config = wait_config(&ns, |_| Ok(())).await;
    write_gateway_lease(&ns, "gw-serving", Some(&config.hash), 0, 60)
        .await
        .unwrap();
    // Behind, and will not renew: a 3 s lease renewed now.
    write_gateway_lease(&ns, "gw-stuck", Some("sha256:old"), 0, 3)
        .await
        .unwrap();
    wait_ready::<Tag>(&ns, "low-stock-signal", "False", "Propagating").await;
    // No Lease event comes when it expires: the operator's recheck timer finds it.
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    assert_eq!(tag.status.unwrap().live_generation, Some(1));

    // The Lease of a replica gone for over an hour is removed.
    write_gateway_lease(&ns, "gw-ancient", Some("sha256:old"), 7200, 10)
        .await
        .unwrap();
    let leases = ns.api::<Lease>();
    wait_for(TIMEOUT, || async {
        match leases
            .get_opt(&contract::gateway_lease_name("gw-ancient"))
            .await
        {
            Ok(None) => Ok(()),
            other => Err(format!("still there: {:?}", other.map(|l| l.is_some()))),
        }
    })
    .await
    .expect("ancient gateway Lease removed");
    assert!(
        leases
            .get_opt(&contract::gateway_lease_name("gw-stuck"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn one_operator_reconciles_each_namespace_into_its_own_config() {
    let shop = namespace_with_crds("shop").await.unwrap();
    let blog = namespace_with_crds("blog").await.unwrap();
    let (trigger, tag) = fixtures::low_stock_signal();
    shop.apply(&[&trigger, &tag]).await.unwrap();
    blog.apply(&[&fixtures::promo_view_trigger()])
        .await
        .unwrap();
    let mut options = options(&shop, "op");
    options.namespaces.push(blog.name().to_string());
    let _operator = Operator::start(shop.client(), options);
    let shop_config = wait_config(&shop, |_| Ok(())).await;
    let blog_config = wait_config(&blog, |_| Ok(())).await;
    assert_eq!(shop_config.scope, shop.name());
    assert_eq!(blog_config.scope, blog.name());
    assert!(shop_config.tags.contains_key("low-stock-signal"));
    assert!(blog_config.tags.is_empty());
    assert!(blog_config.triggers.contains_key("promo-view"));
    wait_ready::<Trigger>(&blog, "promo-view", "False", "AwaitingGateway").await;
}

#[tokio::test]
async fn tag_applied_before_its_trigger_is_reconciling_not_stalled_and_heals_while_a_bad_regex_stalls()
 {
    let ns = namespace_with_crds("missing").await.unwrap();
    let (trigger, tag) = fixtures::low_stock_signal();
    ns.apply(&[&trigger, &tag]).await.unwrap();
    ns.apply(&[&fixtures::promo_tag()]).await.unwrap();
    let _operator = Operator::start(ns.client(), options(&ns, "op"));
    let gateway = GatewayWatcher::start(ns.client(), &ns, "gw-0");

    // A missing Trigger is a dependency that may arrive later: waiting, never Stalled
    // (Flux fails a sync on Stalled at once).
    let promo: Tag = wait_ready(&ns, "promo", "False", "DependencyNotFound").await;
    let status = promo.status.clone().unwrap();
    let message = &ready(Some(&status)).unwrap().message;
    assert!(message.contains("promo-view"), "{message}");
    assert!(message.contains("spec.firingTriggers"), "{message}");
    assert_eq!(condition(&status, RECONCILING).unwrap().status, "True");
    assert!(condition(&status, STALLED).is_none());
    // An error in the object's own spec is Stalled: no other change heals it.
    ns.apply(&[&fixtures::trigger("bad-regex").event_regex("(")])
        .await
        .unwrap();
    let bad: Trigger = wait_ready(&ns, "bad-regex", "False", "InvalidRegex").await;
    let bad_status = bad.status.unwrap();
    assert_eq!(condition(&bad_status, STALLED).unwrap().status, "True");
    assert!(condition(&bad_status, RECONCILING).is_none());
    // So is a Tag whose own per-item condition has a regex that does not compile, though
    // its Trigger exists.
    let mut bad_tag = fixtures::tag("bad-regex-tag").fired_by("low-stock-signal");
    bad_tag.spec.per_item = Some(
        serde_json::from_value(serde_json::json!({"conditions": [
            {"variable": {"item": "item_id"}, "operator": "matchesRegex", "value": "("}
        ]}))
        .unwrap(),
    );
    ns.apply(&[&bad_tag]).await.unwrap();
    let bad: Tag = wait_ready(&ns, "bad-regex-tag", "False", "InvalidRegex").await;
    let bad_status = bad.status.unwrap();
    assert_eq!(condition(&bad_status, STALLED).unwrap().status, "True");
    assert!(condition(&bad_status, RECONCILING).is_none());
    // The rest of the scope is live on the (real) gateway watcher.
    let signal: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    let hash = signal.status.unwrap().config_hash.unwrap();
    assert_eq!(gateway.serving().as_deref(), Some(hash.as_str()));

    ns.apply(&[&fixtures::promo_view_trigger()]).await.unwrap();
    let promo: Tag = wait_ready(&ns, "promo", "True", "Live").await;
    let status = promo.status.unwrap();
    assert!(condition(&status, STALLED).is_none());
    wait_ready::<Trigger>(&ns, "promo-view", "True", "Live").await;

    // The transitions were recorded as Events on the Tag.
    let events = ns.api::<Event>();
    let recorded = wait_for(TIMEOUT, || async {
        let list = events
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let reasons: Vec<String> = list
            .items
            .iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("promo"))
            .filter_map(|e| e.reason.clone())
            .collect();
        if reasons.iter().any(|r| r == "DependencyNotFound") && reasons.iter().any(|r| r == "Live")
        {
            Ok(reasons)
        } else {
            Err(format!("events for promo: {reasons:?}"))
        }
    })
    .await
    .expect("events recorded");
    assert!(!recorded.is_empty());
}

#[tokio::test]
async fn ready_statuses_are_not_rewritten_when_nothing_changes() {
    let ns = namespace_with_crds("still").await.unwrap();
    let (trigger, tag) = fixtures::low_stock_signal();
    ns.apply(&[&trigger, &tag]).await.unwrap();
    let mut options = options(&ns, "op");
    let metrics_addr: std::net::SocketAddr =
        format!("127.0.0.1:{}", hermes_tests::free_port().unwrap())
            .parse()
            .unwrap();
    options.metrics_addr = Some(metrics_addr);
    let _operator = Operator::start(ns.client(), options);
    let _gateway = GatewayWatcher::start(ns.client(), &ns, "gw-0");
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    let version = tag.resource_version();
    let transition = ready(tag.status.as_ref())
        .unwrap()
        .last_transition_time
        .clone();

    // The gateway renews its Lease every 2 s meanwhile; statuses must stay untouched.
    // Asserting that nothing happens takes a fixed wait: three renewals.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let again = ns.api::<Tag>().get("low-stock-signal").await.unwrap();
    assert_eq!(
        again.resource_version(),
        version,
        "status rewritten without a change"
    );
    assert_eq!(
        ready(again.status.as_ref()).unwrap().last_transition_time,
        transition
    );
    // Only the operator writes the config, as one field manager.
    let cm = config_map(&ns).await;
    assert_eq!(
        field_managers(&cm.metadata),
        [contract::OPERATOR_FIELD_MANAGER]
    );

    // Prometheus metrics: reconciles ran, one config of this size was written, and the
    // status patches stopped.
    let metrics = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scope = format!("{{scope=\"{}\"}}", ns.name());
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!("{name}{scope}")) || l.starts_with(&format!("{name} "))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{metrics}"))
    };
    assert!(value("hermes_operator_reconciles_total") >= 1.0);
    assert_eq!(value("hermes_operator_configs_written_total"), 1.0);
    assert!(value("hermes_operator_config_json_bytes") > 100.0);
    assert!(value("hermes_operator_status_patches_total") >= 2.0);
    assert_eq!(value("hermes_operator_leader"), 1.0);
    assert!(
        metrics.contains("hermes_operator_config_publication_seconds_count 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_status_patch_that_never_answers_is_given_up_and_the_tag_still_becomes_ready() {
    let (ns, _gateway) = low_stock_tag_with_a_gateway("status-hang").await;

    // The operator's first status patch never answers (the kube client alone would wait
    // 295 s).
    let status_patch = HungRequest::new(ns.client(), status_write);
    status_patch.arm();
    let mut options = options(&ns, "op");
    options.api_request_timeout = Duration::from_secs(2);
    let _operator = Operator::start(status_patch.client(), options);
    status_patch.wait_hung().await;

    // The patch gives up after 2 s, the reconcile is retried, and the Tag is Ready in the
    // usual wait.
    wait_ready::<Tag>(&ns, "low-stock-signal", "True", "Live").await;
}
