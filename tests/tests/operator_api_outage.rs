//! Issue 13: the API server stops while the gateway serves. Hits keep being accepted and
//! published; when the API server is back the operator converges without status
//! flapping: no Tag's condition goes False-then-True, and no status is written at all
//! (nothing changed), although the gateway's report expired during the outage.
//!
//! The race that would flap: the operator reconciling after the API server returns
//! but before the gateway renewed its (expired) report. The test makes it certain
//! instead of likely: the gateway is frozen (SIGSTOP) across the restart until the
//! operator has completed a reconcile, then resumed.
//!
//! Its own test binary: stopping the API server would break any test sharing the
//! cluster.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hermes_crds::api::Tag;
use hermes_tests::fixtures::{self, TagFixture, constant};
use hermes_tests::product::examples_dir;
use hermes_tests::stack::{LOW_STOCK_HIT, Stack, StackArgs};
use kube::ResourceExt;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

/// Longer than the gateway's 10 s report lease: its report expires during the outage.
const OUTAGE: Duration = Duration::from_secs(15);
/// Hits sent while the API server is down.
const HITS: usize = 20;

/// One observed version of a Tag: name, resourceVersion, and its Ready and Delivering
/// condition statuses.
type Seen = (String, String, String, String);

fn condition_status(tag: &Tag, type_: &str) -> String {
    tag.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .map(|c| c.status.clone())
        .unwrap_or_default()
}

/// Record every version of every Tag the watch delivers, reconnecting after the outage.
fn record_tags(stack: &Stack) -> (Arc<Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let events = watcher(stack.ns.api::<Tag>(), watcher::Config::default())
        .default_backoff()
        .applied_objects();
    let task = tokio::spawn({
        let seen = seen.clone();
        async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                if let Ok(tag) = event {
                    seen.lock().unwrap().push((
                        tag.name_any(),
                        tag.resource_version().unwrap_or_default(),
                        condition_status(&tag, "Ready"),
                        condition_status(&tag, "Delivering"),
                    ));
                }
            }
        }
    });
    (seen, task)
}

/// Every Tag, Trigger and LookupTable: kind/name → (resourceVersion, status).
async fn statuses(stack: &Stack) -> BTreeMap<String, (String, Value)> {
    let text = stack
        .kubectl(&["get", "tags,triggers,lookuptables", "-o", "json"])
        .await;
    let list: Value = serde_json::from_str(&text).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                format!("{}/{}", item["kind"], item["metadata"]["name"]),
                (
                    item["metadata"]["resourceVersion"].to_string(),
                    item["status"].clone(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn hits_are_published_through_an_api_server_outage_and_no_status_flaps_after_it() {
    // Debug logs: the operator logs `reconciled` for each reconcile that completed.
    let args = StackArgs {
        operator_env: vec![(
            "RUST_LOG".to_string(),
            "info,hermes_operator=debug,kube_lease_manager=warn".to_string(),
        )],
        ..StackArgs::default()
    };
    let stack = Stack::start_with("outage", 1, args).await;
    let cluster = stack.ns.cluster();
    stack.apply_path(&examples_dir()).await;
    stack
        .wait_ready(&["tags,triggers,lookuptables", "--all"])
        .await;
    stack.wait_gateway_current().await;
    // Let the first status writes settle (Ready, then Delivering once live).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = statuses(&stack).await;
    let (seen, recorder) = record_tags(&stack);
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.stop_api_server();
    let stopped = Instant::now();
    for _ in 0..HITS {
        assert_eq!(
            stack.get(LOW_STOCK_HIT).await,
            204,
            "hits are accepted while the API server is down"
        );
    }
    let published = stack
        .messages("low-stock", HITS, Duration::from_secs(30))
        .await;
    assert_eq!(
        published.len(),
        HITS,
        "every hit is published during the outage"
    );
    tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
    stack.gateway.process.pause();
    let logged = stack.operators[0].log().len();
    cluster
        .start_api_server()
        .await
        .expect("API server restarts");
    let reconciled = hermes_tests::wait_for(Duration::from_secs(60), || async {
        let log = stack.operators[0].log();
        if log.get(logged..).unwrap_or_default().contains("reconciled") {
            Ok(())
        } else {
            Err("no reconcile completed since the API server returned".to_string())
        }
    })
    .await;
    stack.gateway.process.resume();
    reconciled.expect("the operator reconciles after the outage");

    // The gateway renews its report; wait past the lease duration the operator grants
    // replicas to renew after an outage.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after = statuses(&stack).await;
    for (object, (version, status)) in &before {
        let (version_after, status_after) = &after[object];
        assert_eq!(
            (version, status),
            (version_after, status_after),
            "{object}: no status write after the outage"
        );
    }
    recorder.abort();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.len() >= before.keys().filter(|k| k.starts_with("\"Tag\"")).count(),
        "the watch saw every Tag: {seen:?}"
    );
    for (name, version, ready, delivering) in &seen {
        assert_eq!(
            (ready.as_str(), delivering.as_str()),
            ("True", "True"),
            "Tag {name} at resourceVersion {version} flapped: {seen:?}"
        );
    }

    // The operator converges: a change after the outage goes live.
    let changed = fixtures::low_stock_signal_tag().field("source", constant("after-outage"));
    stack.apply(&[&changed]).await;
    hermes_tests::wait_for(Duration::from_secs(60), || async {
        let live = stack
            .field("tag/low-stock-signal", ".status.liveGeneration")
            .await;
        if live == "2" {
            Ok(())
        } else {
            Err(format!("liveGeneration {live:?}"))
        }
    })
    .await
    .expect("the change after the outage goes live");
    stack.wait_ready(&["tag/low-stock-signal"]).await;
}
