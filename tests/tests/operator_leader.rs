//! Two operators on one scope: only the Lease holder writes, and when it dies the other
//! takes over within the lease duration; a graceful shutdown releases the Lease.

use std::time::{Duration, Instant};

use hermes_compiler::contract;
use hermes_crds::api::Tag;
use hermes_tests::fixtures::{self, TagFixture, event_data};
use hermes_tests::gateway_config::{config_map, wait_config};
use hermes_tests::gateway_watcher::{GatewayWatcher, low_stock_tag_with_a_gateway};
use hermes_tests::hung_request::{HungRequest, write_to};
use hermes_tests::operator::{self, Operator};
use hermes_tests::status::{field_managers, wait_ready, wait_status};
use hermes_tests::{TIMEOUT, TestNamespace, namespace_with_crds, wait_for};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;

const LEASE_SECONDS: u64 = 4;

fn elected(ns: &TestNamespace, identity: &str) -> hermes_operator::Options {
    operator::elected(ns, identity, Duration::from_secs(LEASE_SECONDS))
}

async fn holder(ns: &TestNamespace) -> Option<String> {
    ns.api::<Lease>()
        .get_opt(contract::OPERATOR_LEASE)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

async fn wait_holder(ns: &TestNamespace, want: impl Fn(Option<&str>) -> bool) -> Option<String> {
    wait_for(TIMEOUT, || async {
        let now = holder(ns).await;
        if want(now.as_deref()) {
            Ok(now)
        } else {
            Err(format!("holder is {now:?}"))
        }
    })
    .await
    .expect("lease holder reached")
}

/// Which operator instances recorded Events in the namespace.
async fn event_reporters(ns: &TestNamespace) -> Vec<String> {
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let mut reporters: Vec<String> = events
        .items
        .iter()
        .filter_map(|e| e.reporting_instance.clone())
        .collect();
    reporters.sort();
    reporters.dedup();
    reporters
}

/// Changes the Tag (its generation 2) and waits until that generation is live.
async fn second_generation_goes_live(ns: &TestNamespace) {
    let item_sku = fixtures::low_stock_signal_tag().field("sku", event_data("item_sku"));
    ns.apply(&[&item_sku]).await.unwrap();
    wait_status::<Tag>(ns, "low-stock-signal", |s| {
        (s.live_generation == Some(2))
            .then_some(())
            .ok_or_else(|| "generation 2 not live".into())
    })
    .await;
}

#[tokio::test]
async fn only_the_leader_writes_and_a_dead_leader_is_replaced_within_the_lease_duration() {
    let (ns, _gateway) = low_stock_tag_with_a_gateway("leader").await;
    let a = Operator::start(ns.client(), elected(&ns, "op-a"));
    let first = wait_holder(&ns, |h| h.is_some()).await.unwrap();
    let b = Operator::start(ns.client(), elected(&ns, "op-b"));
    let tag: Tag = wait_ready(&ns, "low-stock-signal", "True", "Live").await;
    assert_eq!(tag.status.unwrap().live_generation, Some(1));

    // One writer: the config and the statuses carry one field manager, and every Event
    // came from the holder.
    let cm = config_map(&ns).await;
    assert_eq!(
        field_managers(&cm.metadata),
        [contract::OPERATOR_FIELD_MANAGER]
    );
    assert_eq!(event_reporters(&ns).await, std::slice::from_ref(&first));
    assert_eq!(holder(&ns).await.as_deref(), Some(first.as_str()));

    // Kill the leader (no release): the other one takes over within the lease duration
    // (plus its re-check jitter of at most 1 s and API latency).
    let (leader, follower) = if first == "op-a" { (a, b) } else { (b, a) };
    let follower_id = follower.identity.clone();
    let killed = Instant::now();
    leader.kill().await;
    wait_holder(&ns, |h| h == Some(follower_id.as_str())).await;
    let handover = killed.elapsed();
    eprintln!("leader handover took {handover:?} (lease {LEASE_SECONDS} s)");
    assert!(
        handover <= Duration::from_secs(LEASE_SECONDS) + Duration::from_secs(2),
        "handover took {handover:?}"
    );

    // The new leader reconciles changes.
    second_generation_goes_live(&ns).await;
    let reporters = event_reporters(&ns).await;
    assert!(reporters.contains(&follower_id), "{reporters:?}");
    drop(follower);
}

#[tokio::test]
async fn graceful_shutdown_releases_the_leader_lease() {
    let ns = namespace_with_crds("release").await.unwrap();
    let (trigger, tag) = fixtures::low_stock_signal();
    ns.apply(&[&trigger, &tag]).await.unwrap();
    let operator = Operator::start(ns.client(), elected(&ns, "op-solo"));
    wait_holder(&ns, |h| h == Some("op-solo")).await;
    wait_config(&ns, |_| Ok(())).await;
    let stopping = Instant::now();
    operator.stop().await.unwrap();
    let released = wait_holder(&ns, |h| h != Some("op-solo")).await;
    assert_eq!(released, None);
    assert!(
        stopping.elapsed() < Duration::from_secs(LEASE_SECONDS),
        "{:?}",
        stopping.elapsed()
    );
}

/// One operator, `op-a`, leading with its Tag `Live`, whose Lease writes go through a
/// [`HungRequest`] the test arms.
async fn leader_with_hung_lease_writes(
    prefix: &str,
) -> (TestNamespace, GatewayWatcher, HungRequest, Operator) {
    let (ns, gateway) = low_stock_tag_with_a_gateway(prefix).await;
    let lease_write = HungRequest::new(ns.client(), |r| write_to(r, "leases"));
    let operator = Operator::start(lease_write.client(), elected(&ns, "op-a"));
    wait_holder(&ns, |h| h == Some("op-a")).await;
    wait_ready::<Tag>(&ns, "low-stock-signal", "True", "Live").await;
    (ns, gateway, lease_write, operator)
}

#[tokio::test]
async fn a_lease_renewal_that_never_answers_does_not_stop_the_leader_writing() {
    let (ns, _gateway, lease_write, _operator) = leader_with_hung_lease_writes("leader-hang").await;

    // The next renewal hangs; wait until the Lease would have expired without another.
    lease_write.arm();
    lease_write.wait_hung().await;
    tokio::time::sleep(Duration::from_secs(2 * LEASE_SECONDS)).await;

    // Still the only replica, and still writing: the hung renewal timed out, the Lease was
    // renewed again, and a change goes live within the usual wait.
    second_generation_goes_live(&ns).await;
    assert_eq!(holder(&ns).await.as_deref(), Some("op-a"));
}

#[tokio::test]
async fn a_leader_whose_renewals_failed_several_times_renews_within_a_lease_of_the_api_answering() {
    let (ns, _gateway, lease_write, _operator) =
        leader_with_hung_lease_writes("leader-fails").await;

    // Ten renewals in a row never answer (as under an API server too loaded to answer
    // within the grace). After each failure kube-lease-manager's own loop waits 1 to 2
    // times its last wait (from 1 s, up to 30 s): after ten, more than two of these
    // Leases in all but a few runs in a thousand.
    for _ in 0..10 {
        lease_write.arm();
        lease_write.wait_hung().await;
    }
    let answering = Timestamp::now();
    let renewed = wait_for(2 * Duration::from_secs(LEASE_SECONDS), || async {
        let renewed = ns
            .api::<Lease>()
            .get(contract::OPERATOR_LEASE)
            .await
            .map_err(|error| error.to_string())?
            .spec
            .and_then(|spec| spec.renew_time)
            .map(|time| time.0);
        match renewed {
            Some(renewed) if renewed > answering => Ok(renewed),
            other => Err(format!("renewed at {other:?}, not after {answering}")),
        }
    })
    .await
    .expect("the Lease renewed again within two lease durations");
    eprintln!(
        "renewed {:?} after the last renewal that hung",
        renewed.duration_since(answering)
    );

    // And the leader writes again.
    second_generation_goes_live(&ns).await;
    assert_eq!(holder(&ns).await.as_deref(), Some("op-a"));
}
