//! Lookup feeds in the operator's all-namespaces mode (`--all-namespaces`): the fed tables
//! of every discovered namespace are consumed, including a namespace that gets its table
//! after the operator started, and a table's feed stops when the table goes. A test binary
//! of its own: an all-namespaces operator reconciles every namespace of its cluster, so it
//! must not share one with other tests' operators.

use std::net::SocketAddr;
use std::time::Duration;

use hermes_crds::api::{LookupFeed, LookupTable};
use hermes_tests::fixtures::{self, PROJECT};
use hermes_tests::operator::Operator;
use hermes_tests::pubsub::{OutgoingMessage, PubSubEmulator, SubscriptionOptions};
use hermes_tests::{TestCluster, TestNamespace, free_port, namespace_with_crds, wait_for};
use kube::api::DeleteParams;

/// The topic the back end publishes to; each table has its own subscription on it.
const FEED_TOPIC: &str = "all-namespaces-feed";

/// A LookupTable `fed` in `ns` fed by `subscription`.
async fn fed_table(ns: &TestNamespace, subscription: &str) {
    let mut table = fixtures::lookup_table("fed");
    table.spec.feed = Some(LookupFeed {
        subscription: subscription.to_string(),
    });
    ns.apply(&[&table]).await.unwrap();
}

/// Wait until the operator's `hermes_operator_feeds_running` is `want`.
async fn wait_feeds_running(metrics: SocketAddr, want: u32) {
    let http = reqwest::Client::new();
    wait_for(Duration::from_secs(60), || async {
        let text = http
            .get(format!("http://{metrics}/metrics"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let running = text
            .lines()
            .find_map(|line| line.strip_prefix("hermes_operator_feeds_running "))
            .map(str::trim);
        if running == Some(want.to_string().as_str()) {
            Ok(())
        } else {
            Err(format!("feeds running: {running:?}, want {want}"))
        }
    })
    .await
    .expect("feeds running");
}

/// Wait until table `fed` in `ns` has applied message `id` and holds exactly `keys`.
async fn wait_applied(ns: &TestNamespace, id: &str, keys: &[&str]) {
    let tables = ns.api::<LookupTable>();
    wait_for(Duration::from_secs(60), || async {
        let table = tables.get("fed").await.map_err(|e| e.to_string())?;
        let applied = table
            .status
            .and_then(|status| status.feed)
            .and_then(|feed| feed.last_applied_message_id);
        let rows: Vec<&str> = table.spec.rows.iter().map(|row| row.key.as_str()).collect();
        if applied.as_deref() == Some(id) && rows == keys {
            Ok(())
        } else {
            Err(format!("{}: rows {rows:?}, applied {applied:?}", ns.name()))
        }
    })
    .await
    .expect("message applied");
}

#[tokio::test]
async fn all_namespaces_mode_feeds_the_tables_of_discovered_namespaces_until_they_go() {
    let emulator = PubSubEmulator::start().await.unwrap();
    let topic = fixtures::topic(FEED_TOPIC);
    emulator.create_topic(&topic).await.unwrap();
    let subscription = |name: &str| format!("projects/{PROJECT}/subscriptions/{name}");
    for name in ["before-feed", "after-feed"] {
        emulator
            .create_subscription(&subscription(name), &topic, SubscriptionOptions::default())
            .await
            .unwrap();
    }
    let before = namespace_with_crds("feed-before").await.unwrap();
    fed_table(&before, &subscription("before-feed")).await;

    let cluster = TestCluster::shared().await.unwrap();
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port().unwrap()));
    let mut options = hermes_operator::Options::new(Vec::new(), "all-namespaces-feeds");
    options.all_namespaces = true;
    options.pubsub_emulator_host = Some(emulator.host_port());
    options.metrics_addr = Some(metrics);
    options.debounce = Duration::from_millis(50);
    let operator = Operator::start(cluster.client().await.unwrap(), options);
    wait_feeds_running(metrics, 1).await;

    // A namespace that gets its first object, a fed table, after the operator started.
    let after = namespace_with_crds("feed-after").await.unwrap();
    fed_table(&after, &subscription("after-feed")).await;
    wait_feeds_running(metrics, 2).await;

    let upsert = r#"{"upsert": [{"key": "BOWL-10", "value": "1"}]}"#;
    let message = OutgoingMessage {
        data: upsert.as_bytes(),
        ..OutgoingMessage::default()
    };
    let ids = emulator.publish(&topic, &[message]).await.unwrap();
    wait_applied(&before, &ids[0], &["BOWL-10"]).await;
    wait_applied(&after, &ids[0], &["BOWL-10"]).await;

    // The table goes, and so does its feed; the other namespace's keeps running.
    after
        .api::<LookupTable>()
        .delete("fed", &DeleteParams::default())
        .await
        .unwrap();
    wait_feeds_running(metrics, 1).await;
    let delete = r#"{"delete": ["BOWL-10"]}"#;
    let message = OutgoingMessage {
        data: delete.as_bytes(),
        ..OutgoingMessage::default()
    };
    let ids = emulator.publish(&topic, &[message]).await.unwrap();
    wait_applied(&before, &ids[0], &[]).await;

    operator.stop().await.unwrap();
}
