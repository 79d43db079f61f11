//! The config the operator writes as tables grow: plain JSON, then gzip, then (over the
//! operator's shard limit) refused with every object saying why (the previous config
//! staying), or split into shard ConfigMaps the gateway assembles; and `hermes lookup
//! import` of a 5,000-row feed reaching a gateway.

use std::collections::BTreeMap;
use std::time::Duration;

use hermes_compiler::contract;
use hermes_crds::api::{LookupTable, STALLED, Tag};
use hermes_operator::lookup_import::{self, Header, Target};
use hermes_tests::fixtures::{self, LookupTableFixture, TagFixture, TriggerFixture, event_data};
use hermes_tests::gateway_config::{config_map, wait_config};
use hermes_tests::gateway_watcher::{GatewayWatcher, low_stock_tag_with_a_gateway};
use hermes_tests::hung_request::{HungRequest, write_to};
use hermes_tests::operator::{Operator, options};
use hermes_tests::status::{condition, live_with, ready, wait_ready, wait_status};
use hermes_tests::{TIMEOUT, TestNamespace, namespace_with_crds, wait_for};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};

/// Create LookupTable `name` whose rows (`rows` keys with `value_hex`-digit pseudo-random
/// values, which gzip cannot shrink much) live in ConfigMap `name-src`. The ConfigMap is
/// created through the API: `kubectl apply` would copy it into an annotation, which is
/// limited to 256 KiB.
async fn big_table(ns: &TestNamespace, name: &str, rows: usize, value_hex: usize, seed: u64) {
    let mut state = seed.max(1);
    let mut csv = String::from("key,value\n");
    for i in 0..rows {
        csv.push_str(&format!("{name}-{i:06},"));
        for _ in 0..value_hex / 16 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            csv.push_str(&format!("{state:016x}"));
        }
        csv.push('\n');
    }
    let source = ConfigMap {
        metadata: ObjectMeta {
            name: Some(format!("{name}-src")),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("rows.csv".to_string(), csv)])),
        ..ConfigMap::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &source)
        .await
        .unwrap();
    let table = fixtures::lookup_table(name).source(&format!("{name}-src"), "rows.csv");
    ns.apply(&[&table]).await.unwrap();
}

fn encoding(cm: &ConfigMap) -> String {
    cm.metadata.annotations.as_ref().unwrap()[contract::CONFIG_ENCODING_ANNOTATION].clone()
}

#[tokio::test]
async fn config_is_gzipped_as_tables_grow_refused_when_too_large_and_plain_again_when_small() {
    let ns = namespace_with_crds("sizes").await.unwrap();
    let any_event = fixtures::trigger("any-event").event("page_view");
    let everything = fixtures::tag("everything")
        .fired_by("any-event")
        .topic(&fixtures::topic("all"));
    ns.apply(&[&any_event, &everything]).await.unwrap();
    // At most one ConfigMap: what a config too large for it gets.
    let mut one_config_map = options(&ns, "op");
    one_config_map.max_config_shards = 1;
    let operator = Operator::start(ns.client(), one_config_map);
    let gateway = GatewayWatcher::start(ns.client(), &ns, "gw-0");
    let small = wait_config(&ns, |c| {
        c.tags
            .contains_key("everything")
            .then_some(())
            .ok_or("no tag".into())
    })
    .await;
    assert_eq!(encoding(&config_map(&ns).await), "json");

    // Two tables of 3,500 rows of 200 hex digits: ~1.8 MB of JSON, ~0.8 MB gzip.
    big_table(&ns, "big-1", 3500, 192, 1).await;
    big_table(&ns, "big-2", 3500, 192, 2).await;
    let gzipped = wait_config(&ns, |c| match c.lookup_tables.len() {
        2 => Ok(()),
        n => Err(format!("{n} tables in config")),
    })
    .await;
    let cm = config_map(&ns).await;
    assert_eq!(encoding(&cm), "gzip");
    assert!(
        cm.data.is_none(),
        "plain key left behind: {:?}",
        cm.data.map(|d| d.len())
    );
    let stored = cm.binary_data.as_ref().unwrap()[contract::CONFIG_GZIP_KEY]
        .0
        .len();
    assert!(stored < contract::STORED_LIMIT_BYTES, "{stored}");
    gateway.wait_serving(&gzipped.hash).await;
    let table: LookupTable = wait_ready(&ns, "big-1", "True", "Live").await;
    assert_eq!(table.status.unwrap().rows, Some(3500));

    // A third table pushes it over 1 MiB even compressed: nothing is written, the
    // gateway keeps the previous config, and every object says why.
    big_table(&ns, "big-3", 3500, 192, 3).await;
    let tag: Tag = wait_ready(&ns, "everything", "False", "ConfigTooLarge").await;
    let status = tag.status.unwrap();
    assert_eq!(condition(&status, STALLED).unwrap().status, "True");
    assert!(
        ready(Some(&status))
            .unwrap()
            .message
            .contains("ConfigMap limit")
    );
    assert_eq!(
        status.live_generation,
        Some(1),
        "the previous config is still live"
    );
    wait_ready::<LookupTable>(&ns, "big-3", "False", "ConfigTooLarge").await;
    let cm = config_map(&ns).await;
    assert_eq!(contract::declared_hash(&cm), Some(gzipped.hash.as_str()));
    assert_eq!(gateway.serving().as_deref(), Some(gzipped.hash.as_str()));

    // With the default shard limit, the same config is split into shards that the gateway
    // assembles, and every object goes live with it.
    operator.stop().await.unwrap();
    let _operator = Operator::start(ns.client(), options(&ns, "op"));
    let sharded = wait_config(&ns, |c| match c.lookup_tables.len() {
        3 => Ok(()),
        n => Err(format!("{n} tables in config")),
    })
    .await;
    let cm = config_map(&ns).await;
    assert_eq!(encoding(&cm), "gzip-shards");
    assert!(cm.data.is_none() && cm.binary_data.is_none());
    let shards = contract::shard_names(&cm).unwrap();
    assert_eq!(shards.len(), 2, "{shards:?}");
    for shard in &shards {
        let shard = ns.api::<ConfigMap>().get(shard).await.unwrap();
        assert_eq!(contract::declared_hash(&shard), Some(sharded.hash.as_str()));
    }
    gateway.wait_serving(&sharded.hash).await;
    wait_status::<LookupTable>(&ns, "big-3", live_with(&sharded.hash)).await;
    wait_status::<Tag>(&ns, "everything", live_with(&sharded.hash)).await;

    // Removing the tables brings back a small, plain config, and the shards go.
    for name in ["big-1", "big-2", "big-3"] {
        ns.api::<LookupTable>()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    let again = wait_config(&ns, |c| match c.lookup_tables.len() {
        0 => Ok(()),
        n => Err(format!("{n} tables in config")),
    })
    .await;
    assert_eq!(again.hash, small.hash);
    let cm = config_map(&ns).await;
    assert_eq!(encoding(&cm), "json");
    assert!(cm.binary_data.is_none(), "gzip key left behind");
    wait_ready::<Tag>(&ns, "everything", "True", "Live").await;
    let shard_list = ListParams::default().labels(contract::CONFIG_SHARD_LABEL_SELECTOR);
    wait_for(TIMEOUT, || async {
        let left = ns.api::<ConfigMap>().list(&shard_list).await;
        match left.map(|list| list.items.len()) {
            Ok(0) => Ok(()),
            other => Err(format!("shards left: {other:?}")),
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn lookup_import_of_5000_rows_goes_to_a_config_map_and_reaches_the_gateway() {
    let ns = namespace_with_crds("import").await.unwrap();
    let stock = fixtures::lookup_table("stock").row("OLD-1", "1");
    let colours = fixtures::lookup_table("colours").input(event_data("colour"));
    ns.apply(&[&stock, &colours]).await.unwrap();
    let _operator = Operator::start(ns.client(), options(&ns, "op"));
    let gateway = GatewayWatcher::start(ns.client(), &ns, "gw-0");
    wait_ready::<LookupTable>(&ns, "stock", "True", "Live").await;

    let mut feed = String::from("SKU,threshold\n");
    for i in 0..5000 {
        feed.push_str(&format!("SKU-{i:05},{}\n", i % 50));
    }
    let rows = lookup_import::parse_csv("feed.csv", &feed, Header::Skip).unwrap();
    let report = lookup_import::import(ns.client(), ns.name(), "stock", &rows)
        .await
        .unwrap();
    assert_eq!(
        report.target,
        Target::NewSource {
            config_map: "stock-rows".into()
        }
    );

    let config = wait_config(&ns, |c| {
        match c.lookup_tables.get("stock").map(|t| t.rows.len()) {
            Some(5000) => Ok(()),
            other => Err(format!("stock rows: {other:?}")),
        }
    })
    .await;
    let table = &config.lookup_tables["stock"];
    let row = table.rows.iter().find(|r| r.key == "SKU-04242").unwrap();
    assert_eq!(row.value, "42");
    assert!(
        table.rows.iter().all(|r| r.key != "OLD-1"),
        "inline rows cleared"
    );
    gateway.wait_serving(&config.hash).await;
    let stock: LookupTable = wait_status(&ns, "stock", live_with(&config.hash)).await;
    assert_eq!(stock.status.unwrap().rows, Some(5000));

    // The next import updates the same ConfigMap key.
    let rows = lookup_import::parse_csv("feed.csv", "SKU-1,7\nSKU-2,9\n", Header::Auto).unwrap();
    let report = lookup_import::import(ns.client(), ns.name(), "stock", &rows)
        .await
        .unwrap();
    assert!(matches!(report.target, Target::Source { .. }), "{report}");
    wait_config(&ns, |c| {
        match c.lookup_tables.get("stock").map(|t| t.rows.len()) {
            Some(2) => Ok(()),
            other => Err(format!("stock rows: {other:?}")),
        }
    })
    .await;

    // A small feed for a table without a source goes inline.
    let rows =
        lookup_import::parse_csv("colours.csv", "key,value\nred,#f00\n", Header::Auto).unwrap();
    let report = lookup_import::import(ns.client(), ns.name(), "colours", &rows)
        .await
        .unwrap();
    assert_eq!(report.target, Target::Inline);
    let colours = ns.api::<LookupTable>().get("colours").await.unwrap();
    assert_eq!(colours.spec.rows.len(), 1);
    assert_eq!(colours.spec.rows[0].value, Some("#f00".into()));
    let error = lookup_import::import(ns.client(), ns.name(), "absent", &rows)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not found"), "{error}");
}

#[tokio::test]
async fn a_config_write_that_never_answers_is_given_up_and_the_change_still_goes_live() {
    let (ns, _gateway) = low_stock_tag_with_a_gateway("config-hang").await;
    let config_write = HungRequest::new(ns.client(), |r| write_to(r, "configmaps"));
    let mut options = options(&ns, "op");
    options.api_request_timeout = Duration::from_secs(2);
    let _operator = Operator::start(config_write.client(), options);
    wait_ready::<Tag>(&ns, "low-stock-signal", "True", "Live").await;

    // The change's config write never answers (the kube client alone would wait 295 s).
    config_write.arm();
    let item_sku = fixtures::low_stock_signal_tag().field("sku", event_data("item_sku"));
    ns.apply(&[&item_sku]).await.unwrap();
    config_write.wait_hung().await;

    // The write gives up after 2 s, the reconcile is retried, and the change goes live in
    // the usual wait.
    wait_status::<Tag>(&ns, "low-stock-signal", |s| {
        (s.live_generation == Some(2))
            .then_some(())
            .ok_or_else(|| "generation 2 not live".into())
    })
    .await;
}
