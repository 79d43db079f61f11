//! Issue 13's status half, end to end (operator and gateway as processes, real
//! kube-apiserver, real Pub/Sub emulator): a Tag whose topic is missing reads
//! `Delivering=False` / `Ready=False`, reason `TopicNotFound`, found either by the gateway
//! publishing (its Lease report) or by the operator's topic check before any hit; the
//! healthy Tag beside it stays Ready and delivering; creating the topic heals it.

use std::time::Duration;

use hermes_crds::api::Tag;
use hermes_tests::fixtures::{self, TagFixture};
use hermes_tests::product::examples_dir;
use hermes_tests::stack::{LOW_STOCK_HIT, Stack, StackArgs};

/// A topic no stack creates.
const MISSING: &str = "restock-orders";

/// A second Tag on the examples' `low-stock-signal` Trigger, publishing to `MISSING`.
fn restock_tag() -> Tag {
    fixtures::tag("restock")
        .fired_by("low-stock-signal")
        .topic(&fixtures::topic(MISSING))
}

fn args(gateway: &[&str], operator: &[&str]) -> StackArgs {
    let owned = |flags: &[&str]| flags.iter().map(|f| f.to_string()).collect();
    StackArgs {
        gateway: owned(gateway),
        operator: owned(operator),
        ..StackArgs::default()
    }
}

#[tokio::test]
async fn a_tag_whose_topic_the_gateway_cannot_find_is_not_delivering_and_heals_when_it_exists() {
    // The operator's own check is off: what the Tag shows comes from the gateway's report.
    let stack = Stack::start_with(
        "delivery-gateway",
        1,
        args(
            &["--dead-letter-probe-seconds", "1"],
            &["--check-topics=false"],
        ),
    )
    .await;
    stack.apply_path(&examples_dir()).await;
    stack.apply(&[&restock_tag()]).await;
    stack.wait_ready(&["tags", "--all"]).await;
    stack.wait_gateway_current().await;
    assert_eq!(
        stack
            .condition_field("tag/restock", "Delivering", "status")
            .await,
        "True",
        "nothing known to fail before the first hit"
    );

    // Hits fire both Tags: the healthy one publishes, the other's lane finds its topic
    // missing and dead-letters; no hit is refused.
    for _ in 0..5 {
        assert_eq!(stack.get(LOW_STOCK_HIT).await, 204);
    }
    let message = stack
        .wait_condition("tag/restock", "Delivering", "False", "TopicNotFound")
        .await;
    let missing = fixtures::topic(MISSING);
    assert!(
        message.contains("gateway replica gw-0") && message.contains(&missing),
        "the message names the replica and the topic: {message}"
    );
    assert_eq!(stack.ready_field("tag/restock", "status").await, "False");
    assert_eq!(
        stack.ready_field("tag/restock", "reason").await,
        "TopicNotFound"
    );
    assert_eq!(
        stack
            .condition_field("tag/restock", "Stalled", "status")
            .await,
        "True"
    );
    // Live all the same: the gateways serve it.
    assert_eq!(
        stack.field("tag/restock", ".status.liveGeneration").await,
        "1"
    );
    let healthy = stack
        .messages("low-stock", 5, Duration::from_secs(30))
        .await;
    assert_eq!(healthy.len(), 5, "the healthy Tag's messages all arrive");
    assert_eq!(
        stack.ready_field("tag/low-stock-signal", "status").await,
        "True"
    );
    assert_eq!(
        stack
            .condition_field("tag/low-stock-signal", "Delivering", "status")
            .await,
        "True"
    );

    // The topic is created; the lane's next probe (a hit after the probe interval)
    // succeeds, the report drops the topic and the Tag is Ready again.
    stack.emulator.create_topic(&missing).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stack.get(LOW_STOCK_HIT).await, 204);
    stack
        .wait_condition("tag/restock", "Delivering", "True", "TopicAvailable")
        .await;
    stack.wait_ready_status("tag/restock", "True").await;
    assert_eq!(
        stack
            .condition_field("tag/restock", "Stalled", "status")
            .await,
        "",
        "no Stalled condition once healed"
    );
}

#[tokio::test]
async fn the_operator_marks_a_tag_on_a_missing_topic_before_any_hit_and_clears_it_once_created() {
    let stack = Stack::start_with(
        "delivery-check",
        1,
        args(&[], &["--topic-check-ttl-seconds", "1"]),
    )
    .await;
    stack.apply_path(&examples_dir()).await;
    stack.apply(&[&restock_tag()]).await;
    let missing = fixtures::topic(MISSING);
    let message = stack
        .wait_condition("tag/restock", "Ready", "False", "TopicNotFound")
        .await;
    assert_eq!(
        message,
        format!("topic {missing} does not exist (checked by the operator)")
    );
    assert_eq!(
        stack
            .condition_field("tag/restock", "Delivering", "reason")
            .await,
        "TopicNotFound"
    );
    // Every other Tag (their topics exist) is Ready.
    stack
        .wait_ready(&[
            "tag/low-stock-signal",
            "tag/low-stock-items",
            "tag/promotion-used",
        ])
        .await;

    stack.emulator.create_topic(&missing).await.unwrap();
    stack.wait_ready_status("tag/restock", "True").await;
    assert_eq!(
        stack
            .condition_field("tag/restock", "Delivering", "status")
            .await,
        "True"
    );
}
