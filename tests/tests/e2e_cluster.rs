//! Issue 4's end-to-end scenarios: operator and gateway as processes, real kube-apiserver,
//! real Pub/Sub emulator, resources applied with the real `kubectl`.

use std::time::{Duration, Instant};

use hermes_crds::api::{Tag, Trigger};
use hermes_tests::fixtures::{self, TagFixture, TriggerFixture, constant};
use hermes_tests::product::{binary, examples_dir};
use hermes_tests::stack::{LOW_STOCK_HIT, Stack};
use hermes_tests::{Identity, wait_for};
use serde_json::json;

const QUIET: Duration = Duration::from_secs(3);

#[tokio::test]
async fn applied_examples_become_ready_and_the_low_stock_hit_is_published() {
    let stack = Stack::start("e2e-examples", 1).await;
    stack.apply_path(&examples_dir()).await;
    stack
        .wait_ready(&["tags,triggers,lookuptables", "--all"])
        .await;
    let table = stack
        .field("lookuptable/low-stock-skus", ".status.rows")
        .await;
    assert_eq!(table, "4");
    assert_eq!(stack.get(LOW_STOCK_HIT).await, 204);
    let got = stack
        .messages("low-stock", 2, Duration::from_secs(30))
        .await;
    assert_eq!(got.len(), 1, "one message");
    assert_eq!(
        got[0].json().unwrap(),
        json!({"sku": "BOWL-10", "source": "signal"})
    );
}

/// The examples' `low-stock-signal` Tag with a changed payload.
fn signal_tag_v2() -> Tag {
    fixtures::low_stock_signal_tag()
        .field("source", constant("signal-v2"))
        .field("warehouse", constant("north"))
}

#[tokio::test]
async fn a_changed_tag_payload_is_in_the_next_message_within_two_seconds_and_shown_live() {
    let stack = Stack::start("e2e-change", 1).await;
    stack.apply_path(&examples_dir()).await;
    stack.wait_ready(&["tags", "--all"]).await;
    let before = stack.wait_gateway_current().await;

    let applied = Instant::now();
    stack.apply(&[&signal_tag_v2()]).await;
    let (_, swapped_after) = stack.wait_gateway_change(Some(&before), applied).await;
    assert!(
        swapped_after <= Duration::from_secs(2),
        "gateway served the change {swapped_after:?} after the apply"
    );
    assert_eq!(stack.get(LOW_STOCK_HIT).await, 204);
    let got = stack
        .messages("low-stock", 1, Duration::from_secs(30))
        .await;
    assert_eq!(
        got[0].json().unwrap(),
        json!({"sku": "BOWL-10", "source": "signal-v2", "warehouse": "north"})
    );

    wait_for(Duration::from_secs(30), || async {
        let generation = stack
            .field("tag/low-stock-signal", ".metadata.generation")
            .await;
        let live = stack
            .field("tag/low-stock-signal", ".status.liveGeneration")
            .await;
        if generation == "2" && live == "2" {
            Ok(())
        } else {
            Err(format!("generation {generation}, liveGeneration {live:?}"))
        }
    })
    .await
    .expect("status shows generation 2 live");
    stack.wait_ready(&["tag/low-stock-signal"]).await;
}

/// A Tag on `promotions` fired by the missing Trigger `ghost`.
fn orphan_tag() -> Tag {
    fixtures::tag("orphan")
        .fired_by("ghost")
        .topic(&fixtures::topic("promotions"))
}

/// The Trigger `orphan_tag` needs.
fn ghost_trigger() -> Trigger {
    fixtures::trigger("ghost").event("ghost_event")
}

#[tokio::test]
async fn a_tag_with_a_missing_trigger_is_not_ready_naming_it_others_keep_working_and_it_heals() {
    let stack = Stack::start("e2e-missing", 1).await;
    stack.apply_path(&examples_dir()).await;
    stack.apply(&[&orphan_tag()]).await;
    let message = stack.wait_ready_status("tag/orphan", "False").await;
    assert!(
        message.contains("\"ghost\""),
        "message names the trigger: {message}"
    );
    assert_eq!(
        stack.ready_field("tag/orphan", "reason").await,
        "DependencyNotFound"
    );
    stack
        .wait_ready(&["tag/low-stock-signal", "tag/promotion-used"])
        .await;
    stack.wait_gateway_current().await;
    assert_eq!(stack.get(LOW_STOCK_HIT).await, 204);
    assert_eq!(
        stack
            .messages("low-stock", 1, Duration::from_secs(30))
            .await
            .len(),
        1
    );

    stack.apply(&[&ghost_trigger()]).await;
    stack.wait_ready(&["tag/orphan", "trigger/ghost"]).await;
    stack.wait_gateway_current().await;
    assert_eq!(
        stack.get("/g/collect?v=2&tid=G-0000&en=ghost_event").await,
        204
    );
    let got = stack
        .messages("promotions", 1, Duration::from_secs(30))
        .await;
    assert_eq!(got[0].attributes["hermes_tag"], "orphan");
}

#[tokio::test]
async fn deleting_a_tag_stops_its_messages_and_deleting_a_table_unreadies_its_users() {
    let stack = Stack::start("e2e-delete", 1).await;
    stack.apply_path(&examples_dir()).await;
    stack
        .wait_ready(&["tags,triggers,lookuptables", "--all"])
        .await;
    let before = stack.wait_gateway_current().await;

    stack.kubectl(&["delete", "tag", "low-stock-signal"]).await;
    stack
        .wait_gateway_change(Some(&before), Instant::now())
        .await;
    assert_eq!(stack.get(LOW_STOCK_HIT).await, 204);
    let got = stack.messages("low-stock", 1, QUIET).await;
    assert!(
        got.is_empty(),
        "no message after the delete: {:?}",
        got.iter().map(|m| m.text()).collect::<Vec<_>>()
    );

    stack
        .kubectl(&["delete", "lookuptable", "low-stock-skus"])
        .await;
    let message = stack
        .wait_ready_status("tag/low-stock-items", "False")
        .await;
    assert!(message.contains("low-stock-skus"), "{message}");
    let message = stack
        .wait_ready_status("trigger/purchase-with-low-stock-item", "False")
        .await;
    assert!(message.contains("low-stock-skus"), "{message}");
    stack.wait_ready(&["tag/promotion-used"]).await;
}

#[tokio::test]
async fn lookup_import_of_5000_rows_takes_effect_in_the_gateway() {
    let stack = Stack::start("e2e-import", 1).await;
    stack.apply_path(&examples_dir()).await;
    stack.wait_ready(&["lookuptable/low-stock-skus"]).await;
    let before = stack.wait_gateway_current().await;

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("skus.csv");
    let mut text = String::from("sku,threshold\n");
    for i in 1..=5000 {
        text.push_str(&format!("SKU-{i:05},{}\n", i % 50));
    }
    std::fs::write(&csv, text).unwrap();
    let output = tokio::process::Command::new(binary("hermes").unwrap())
        .args(["lookup", "import", "low-stock-skus", "--header", "--csv"])
        .arg(&csv)
        .args(["-n", stack.ns.name()])
        .env(
            "KUBECONFIG",
            stack.ns.cluster().kubeconfig_for(Identity::Admin),
        )
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "hermes lookup import: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    stack
        .wait_gateway_change(Some(&before), Instant::now())
        .await;
    stack
        .wait_ready(&["lookuptable/low-stock-skus", "tag/low-stock-items"])
        .await;
    let rows = stack
        .field("lookuptable/low-stock-skus", ".status.rows")
        .await;
    assert_eq!(rows, "5000");

    let purchase = "/g/collect?v=2&tid=G-0000&en=purchase&cu=EUR&ep.transaction_id=T-5000\
                    &pr1=idSKU-04999~nmThing~pr3~qt7&pr2=idNOT-LISTED~qt1";
    assert_eq!(stack.get(purchase).await, 204);
    let got = stack
        .messages("low-stock", 2, Duration::from_secs(30))
        .await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json().unwrap(),
        json!({"sku": "SKU-04999", "threshold": 49, "quantity": 7, "transaction_id": "T-5000"})
    );
}

/// The identity holding the operator's leader Lease.
async fn leader(stack: &Stack) -> String {
    stack
        .field("lease/hermes-operator", ".spec.holderIdentity")
        .await
}

#[tokio::test]
async fn two_operators_share_without_conflict_and_a_killed_leader_hands_over_within_the_lease() {
    let mut stack = Stack::start("e2e-leader", 2).await;
    stack.apply_path(&examples_dir()).await;
    stack
        .wait_ready(&["tags,triggers,lookuptables", "--all"])
        .await;
    let first = wait_for(Duration::from_secs(30), || async {
        let holder = leader(&stack).await;
        if holder.is_empty() {
            Err("no leader".to_string())
        } else {
            Ok(holder)
        }
    })
    .await
    .unwrap();
    // One field manager owns the config: the two replicas never fought over it.
    let managers = stack
        .field(
            "configmap/hermes-gateway-config",
            ".metadata.managedFields[*].manager",
        )
        .await;
    assert_eq!(managers, "hermes-operator");

    let index = stack
        .operators
        .iter()
        .position(|p| p.name == first)
        .expect("the leader is one of ours");
    stack.operators[index].kill().await;
    let killed = Instant::now();
    let second = wait_for(Duration::from_secs(30), || async {
        let holder = leader(&stack).await;
        if holder != first && !holder.is_empty() {
            Ok(holder)
        } else {
            Err(format!("lease still held by {holder:?}"))
        }
    })
    .await
    .expect("leadership moves");
    let handover = killed.elapsed();
    eprintln!("leader {first} killed; {second} took over after {handover:?}");
    // The lease lasts 4 s from the dead leader's last renewal; allow the follower's
    // retry period on top.
    assert!(
        handover <= Duration::from_secs(4 + 2),
        "handover took {handover:?}"
    );

    // The new leader reconciles: a change reaches the gateway.
    let before = stack.wait_gateway_current().await;
    let applied = Instant::now();
    stack.apply(&[&signal_tag_v2()]).await;
    let (_, after) = stack.wait_gateway_change(Some(&before), applied).await;
    assert!(
        after <= Duration::from_secs(2),
        "change served {after:?} after the apply"
    );
    stack.wait_ready(&["tag/low-stock-signal"]).await;
}

#[tokio::test]
async fn each_config_publication_outcome_is_published_for_success_and_failure() {
    let stack = Stack::start("e2e-publication", 1).await;
    stack.apply_path(&examples_dir()).await;
    stack.wait_ready(&["tags", "--all"]).await;
    let found = wait_for(Duration::from_secs(30), || async {
        let got = stack
            .messages("config-publications", 10, Duration::from_secs(1))
            .await;
        got.into_iter()
            .map(|m| m.json().unwrap())
            .find(|m| {
                m["outcome"] == "success" && m["objects"].as_array().is_some_and(|o| o.len() >= 12)
            })
            .ok_or("no success publication with every example object yet")
    })
    .await
    .expect("success publication");
    assert_eq!(found["scope"], stack.ns.name());
    assert!(found["configHash"].as_str().unwrap().starts_with("sha256:"));

    stack.apply(&[&orphan_tag()]).await;
    let failure = wait_for(Duration::from_secs(30), || async {
        let got = stack
            .messages("config-publications", 10, Duration::from_secs(1))
            .await;
        got.into_iter()
            .map(|m| m.json().unwrap())
            .find(|m| m["outcome"] == "failure")
            .ok_or("no failure publication yet")
    })
    .await
    .expect("failure publication");
    let reasons = failure["reasons"].to_string();
    assert!(
        reasons.contains("Tag/orphan") && reasons.contains("ghost"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_gateway_stopped_with_sigterm_flushes_its_messages_and_retires_its_report() {
    let mut stack = Stack::start("e2e-sigterm", 1).await;
    stack.apply_path(&examples_dir()).await;
    stack.wait_ready(&["tags", "--all"]).await;
    stack.wait_gateway_current().await;
    assert_eq!(stack.get(LOW_STOCK_HIT).await, 204);
    let status = stack.gateway.process.terminate().await.unwrap();
    assert!(status.success(), "gateway exit: {status:?}");
    let stopped = Instant::now();
    // The hit was answered before publishing; shutdown published it.
    let got = stack
        .messages("low-stock", 1, Duration::from_secs(30))
        .await;
    assert_eq!(got.len(), 1, "flushed at shutdown");
    let leases = stack.kubectl(&["get", "leases", "-o", "name"]).await;
    assert!(
        !leases.contains("hermes-gateway-gw-0"),
        "report Lease removed: {leases}"
    );
    // With no gateway serving, the operator says so at once rather than at lease expiry.
    stack
        .wait_ready_status("tag/low-stock-signal", "False")
        .await;
    assert_eq!(
        stack.ready_field("tag/low-stock-signal", "reason").await,
        "AwaitingGateway"
    );
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "took {:?}",
        stopped.elapsed()
    );
}
