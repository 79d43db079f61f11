//! Issue 12's end-to-end scenarios: a LookupTable fed by a Pub/Sub subscription
//! (`examples/fed/low-stock.yaml`), with the operator(s) and gateway as processes, the real
//! kube-apiserver and the Pub/Sub emulator.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hermes_tests::fixtures::{PROJECT, topic};
use hermes_tests::product::examples_dir;
use hermes_tests::pubsub::SubscriptionOptions;
use hermes_tests::stack::Stack;
use hermes_tests::wait_for;
use serde_json::json;

/// How long a purchase may take to show that nothing is published.
const QUIET: Duration = Duration::from_secs(3);
/// The feed topic the back end publishes to; the example's subscription is on it.
const FEED_TOPIC: &str = "low-stock-skus-feed";

/// A stack serving `examples/low-stock.yaml` (and `settings.yaml`, its project) with its
/// table replaced by the fed variant,
/// the feed's topic and subscription (`ordering`: with message ordering) created, and the
/// outcome topic drained.
async fn fed_stack(prefix: &str, operators: usize, ordering: bool) -> Stack {
    let stack = Stack::start(prefix, operators).await;
    let feed = topic(FEED_TOPIC);
    stack.emulator.create_topic(&feed).await.unwrap();
    stack
        .emulator
        .create_subscription(
            &format!("projects/{PROJECT}/subscriptions/{FEED_TOPIC}"),
            &feed,
            SubscriptionOptions {
                ordering,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let examples = examples_dir();
    // The Tags name bare topics; their project comes from the namespace's settings.
    stack.apply_path(&examples.join("settings.yaml")).await;
    stack.apply_path(&examples.join("low-stock.yaml")).await;
    stack.apply_path(&examples.join("fed/low-stock.yaml")).await;
    stack
        .wait_ready(&["tags,triggers,lookuptables", "--all"])
        .await;
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.rows")
            .await,
        "0"
    );
    stack.wait_gateway_current().await;
    stack
        .messages("config-publications", 100, Duration::from_secs(1))
        .await;
    stack
}

/// Publish one feed message (ordering key `shop`); its message id.
async fn publish(stack: &Stack, body: &str, attributes: &[(&str, &str)]) -> String {
    let attributes: HashMap<&str, &str> = attributes.iter().copied().collect();
    let url = format!(
        "{}/v1/{}:publish",
        stack.emulator.endpoint(),
        topic(FEED_TOPIC)
    );
    let answer: serde_json::Value = stack
        .http
        .post(url)
        .json(&json!({ "messages": [{
            "data": BASE64.encode(body),
            "attributes": attributes,
            "orderingKey": "shop",
        }]}))
        .send()
        .await
        .expect("emulator answers")
        .json()
        .await
        .expect("publish answer");
    answer["messageIds"][0]
        .as_str()
        .expect("a message id")
        .to_string()
}

/// Publish `body` and wait until the gateway serves a config other than the one it
/// served before; how long that took.
async fn publish_and_wait_served(
    stack: &Stack,
    body: &str,
    attributes: &[(&str, &str)],
) -> (String, Duration) {
    let before = stack.wait_gateway_current().await;
    let published = Instant::now();
    let id = publish(stack, body, attributes).await;
    let (_, took) = stack.wait_gateway_change(Some(&before), published).await;
    (id, took)
}

/// A purchase of one `sku`; the low-stock messages it published (none within [`QUIET`]).
async fn purchase(stack: &Stack, transaction: &str, sku: &str) -> Vec<serde_json::Value> {
    let hit = format!(
        "/g/collect?v=2&tid=G-0000&en=purchase&cu=EUR&ep.transaction_id={transaction}&pr1=id{sku}~qt2"
    );
    assert_eq!(stack.get(&hit).await, 204);
    stack
        .messages("low-stock", 2, QUIET)
        .await
        .iter()
        .map(|m| m.json().expect("JSON message"))
        .collect()
}

/// Wait until the table's `status.feed.lastAppliedMessageId` is `id`.
async fn wait_applied(stack: &Stack, id: &str) {
    wait_feed_status(stack, "lastAppliedMessageId", id).await;
}

/// Wait until the table's `status.feed.lastError` reports message `id`; the error.
async fn wait_rejected(stack: &Stack, id: &str) -> String {
    wait_feed_status(stack, "lastError", &format!("message {id}: ")).await;
    stack
        .field("lookuptable/low-stock-skus", ".status.feed.lastError")
        .await
}

/// Wait until `status.feed.FIELD` of the table is `want` or (an error) starts with it.
async fn wait_feed_status(stack: &Stack, field: &str, want: &str) {
    wait_for(Duration::from_secs(30), || async {
        let got = stack
            .field(
                "lookuptable/low-stock-skus",
                &format!(".status.feed.{field}"),
            )
            .await;
        if got == want || (want.ends_with(": ") && got.starts_with(want)) {
            Ok(())
        } else {
            Err(format!("status.feed.{field} = {got:?}, want {want:?}"))
        }
    })
    .await
    .expect("feed status");
}

#[tokio::test]
async fn upsert_delete_and_csv_snapshot_messages_change_what_the_gateway_publishes() {
    let stack = fed_stack("feed-rows", 1, true).await;

    let (id, took) = publish_and_wait_served(
        &stack,
        r#"{"upsert": [{"key": "BOWL-10", "value": "1"}]}"#,
        &[],
    )
    .await;
    eprintln!("upsert published → gateway serving the new row: {took:?}");
    assert!(took <= Duration::from_secs(3), "served after {took:?}");
    assert_eq!(
        purchase(&stack, "T-1", "BOWL-10").await,
        [json!({"sku": "BOWL-10", "threshold": 1, "quantity": 2, "transaction_id": "T-1"})]
    );
    wait_applied(&stack, &id).await;
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.rows")
            .await,
        "1"
    );

    let (_, took) = publish_and_wait_served(&stack, r#"{"delete": ["BOWL-10"]}"#, &[]).await;
    eprintln!("delete published → gateway serving without the row: {took:?}");
    assert_eq!(
        purchase(&stack, "T-2", "BOWL-10").await,
        Vec::<serde_json::Value>::new()
    );

    let snapshot = "key,value\nMUG-22,3\nTEAPOT-01,2\n";
    let (_, took) = publish_and_wait_served(&stack, snapshot, &[("format", "csv")]).await;
    eprintln!("CSV snapshot published → gateway serving it: {took:?}");
    assert_eq!(
        purchase(&stack, "T-3", "MUG-22").await,
        [json!({"sku": "MUG-22", "threshold": 3, "quantity": 2, "transaction_id": "T-3"})]
    );
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.rows")
            .await,
        "2"
    );
    stack
        .wait_ready(&["lookuptable/low-stock-skus", "tag/low-stock-items"])
        .await;

    // Each applied change was followed by a config publication outcome on the bus.
    let outcomes = stack
        .messages("config-publications", 10, Duration::from_secs(5))
        .await;
    let successes = outcomes
        .iter()
        .filter(|m| m.json().unwrap()["outcome"] == "success")
        .count();
    assert!(
        successes >= 3,
        "outcomes: {:?}",
        outcomes.iter().map(|m| m.text()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn poison_and_stale_messages_leave_the_table_unchanged_and_are_reported() {
    let stack = fed_stack("feed-poison", 1, true).await;
    let (_, _) = publish_and_wait_served(
        &stack,
        r#"{"upsert": [{"key": "BOWL-10", "value": "5"}]}"#,
        &[("version", "5")],
    )
    .await;
    let served = stack.wait_gateway_current().await;

    let poison = publish(&stack, "{not json", &[("version", "6")]).await;
    let error = wait_rejected(&stack, &poison).await;
    assert!(error.contains("BadJson"), "{error}");
    let events = stack
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "reason=FeedMessageRejected",
            "-o",
            "jsonpath={.items[*].message}",
        ])
        .await;
    assert!(
        events.contains(&format!("message {poison}: BadJson")),
        "events: {events}"
    );

    // Older than the applied version 5: skipped, acknowledged.
    publish(
        &stack,
        r#"{"upsert": [{"key": "BOWL-10", "value": "4"}]}"#,
        &[("version", "4")],
    )
    .await;
    // A replay of version 5 changes nothing either.
    publish(
        &stack,
        r#"{"upsert": [{"key": "BOWL-10", "value": "5"}]}"#,
        &[("version", "5")],
    )
    .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(stack.gateway_hash().await.as_deref(), Some(served.as_str()));
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.feed.version")
            .await,
        "5"
    );
    assert_eq!(
        purchase(&stack, "T-1", "BOWL-10").await,
        [json!({"sku": "BOWL-10", "threshold": 5, "quantity": 2, "transaction_id": "T-1"})]
    );

    // The feed is not stuck behind the poison message: the next one applies and clears
    // the error.
    let (id, _) = publish_and_wait_served(
        &stack,
        r#"{"upsert": [{"key": "BOWL-10", "value": "7"}]}"#,
        &[("version", "7")],
    )
    .await;
    wait_applied(&stack, &id).await;
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.feed.lastError")
            .await,
        ""
    );
}

#[tokio::test]
async fn only_the_leader_consumes_and_a_new_leader_resumes_after_a_kill() {
    let mut stack = fed_stack("feed-leader", 2, false).await;
    let leader = wait_for(Duration::from_secs(30), || async {
        let holder = stack
            .field("lease/hermes-operator", ".spec.holderIdentity")
            .await;
        if holder.is_empty() {
            Err("no leader".to_string())
        } else {
            Ok(holder)
        }
    })
    .await
    .unwrap();
    publish_and_wait_served(
        &stack,
        r#"{"upsert": [{"key": "BOWL-10", "value": "1"}]}"#,
        &[],
    )
    .await;
    for operator in &stack.operators {
        let started = operator.log().contains("lookup feed started");
        assert_eq!(
            started,
            operator.name == leader,
            "{} consumes: {started}",
            operator.name
        );
    }

    // The subscriber sends acknowledgements in batches within a second: give it that,
    // so the kill tests the handover, not a redelivery after the ack deadline.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let index = stack
        .operators
        .iter()
        .position(|p| p.name == leader)
        .unwrap();
    stack.operators[index].kill().await;
    // Published while no replica leads: kept by the subscription for the next leader.
    let before = stack.wait_gateway_current().await;
    let id = publish(
        &stack,
        r#"{"upsert": [{"key": "MUG-22", "value": "3"}]}"#,
        &[],
    )
    .await;
    stack
        .wait_gateway_change(Some(&before), Instant::now())
        .await;
    wait_applied(&stack, &id).await;
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.rows")
            .await,
        "2"
    );
    assert_eq!(
        purchase(&stack, "T-1", "MUG-22").await,
        [json!({"sku": "MUG-22", "threshold": 3, "quantity": 2, "transaction_id": "T-1"})]
    );
}

#[tokio::test]
async fn a_snapshot_of_100000_rows_is_served_and_one_over_the_configmap_limit_is_rejected() {
    let stack = fed_stack("feed-large", 1, true).await;
    let mut snapshot = String::from("key,value\n");
    for i in 1..=100_000 {
        snapshot.push_str(&format!("K{i:06},{}\n", i % 10));
    }
    let (_, took) = publish_and_wait_served(&stack, &snapshot, &[("format", "csv")]).await;
    eprintln!("100,000-row CSV snapshot published → gateway serving it: {took:?}");
    stack.wait_ready(&["lookuptable/low-stock-skus"]).await;
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.rows")
            .await,
        "100000"
    );
    assert_eq!(
        stack
            .field(
                "lookuptable/low-stock-skus",
                ".spec.source.configMapKeyRef.name"
            )
            .await,
        "low-stock-skus-rows"
    );
    assert_eq!(
        purchase(&stack, "T-1", "K099999").await,
        [json!({"sku": "K099999", "threshold": 9, "quantity": 2, "transaction_id": "T-1"})]
    );

    // Longer keys: the CSV no longer fits a ConfigMap. A clear status, the rows unchanged.
    let served = stack.wait_gateway_current().await;
    let mut too_large = String::from("key,value\n");
    for i in 1..=100_000 {
        too_large.push_str(&format!("SKU-LONGER-{i:06},{}\n", i % 10));
    }
    let id = publish(&stack, &too_large, &[("format", "csv")]).await;
    let error = wait_rejected(&stack, &id).await;
    assert!(
        error.contains("TooLarge") && error.contains("ConfigMap limit"),
        "{error}"
    );
    assert_eq!(
        stack
            .field("lookuptable/low-stock-skus", ".status.rows")
            .await,
        "100000"
    );
    assert_eq!(stack.gateway_hash().await.as_deref(), Some(served.as_str()));
}
