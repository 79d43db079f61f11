//! The reconcile pipeline's edge cases, one scenario each, against an
//! [`ApiServerVerifier`](super::fixtures::ApiServerVerifier): the exact API calls made,
//! and none other. The real-apiserver tests in `tests/` cover the same path end to end.

use http::Method;

use super::fixtures::{Call, Reply, Role, World, leader_lease, tag_object, trigger_object};
use super::{ConfigWrite, OutcomePublication, StatusSync};
use crate::publication::Outcome;

/// The calls of a first reconcile that patches both statuses (Tag first).
fn both_statuses_patched() -> Vec<Call> {
    vec![
        Call::patch_status("tags", "views", Reply::Object(tag_object())),
        Call::record_event(),
        Call::patch_status("triggers", "page-view", Reply::Object(trigger_object())),
        Call::record_event(),
    ]
}

#[tokio::test]
async fn a_changed_hash_is_written_once_then_statuses_patched() {
    let mut world = World::new(Role::Leader);
    let mut calls = vec![Call::apply_config_map(Reply::Echo)];
    calls.extend(both_statuses_patched());
    world.expect(calls);
    let reconciled = world.reconcile().await.unwrap();
    assert_eq!(reconciled.write, ConfigWrite::Written);
    assert_eq!(
        reconciled.publication,
        OutcomePublication::Sending(Outcome::Success)
    );
    assert_eq!(
        reconciled.statuses,
        StatusSync {
            patched: 2,
            gone: 0,
            deferred: 0
        }
    );
    let answered = world.finish().await;
    let applied = &answered[0].body;
    assert_eq!(
        applied["metadata"]["annotations"]["hermes.io/config-hash"],
        reconciled.hash.as_str()
    );
    let status = &answered[1].body["status"];
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "AwaitingGateway");
}

#[tokio::test]
async fn an_unchanged_hash_writes_no_config_map() {
    let mut world = World::new(Role::Leader);
    world.config_map_up_to_date();
    world.expect(both_statuses_patched());
    let reconciled = world.reconcile().await.unwrap();
    assert_eq!(reconciled.write, ConfigWrite::Unchanged);
    assert_eq!(reconciled.publication, OutcomePublication::NothingNew);
    let answered = world.finish().await;
    assert!(
        answered.iter().all(|a| !a.path.contains("/configmaps/")),
        "{answered:?}"
    );
}

#[tokio::test]
async fn unchanged_statuses_are_not_patched_again_even_before_the_cache_sees_the_patch() {
    let mut world = World::new(Role::Leader);
    let mut calls = vec![Call::apply_config_map(Reply::Echo)];
    calls.extend(both_statuses_patched());
    world.expect(calls);
    world.reconcile().await.unwrap();
    // The cache still holds the objects without status, and no ConfigMap: the watch
    // events of the writes have not arrived. Nothing changed, so nothing is sent.
    let again = world.reconcile().await.unwrap();
    assert_eq!(again.write, ConfigWrite::Unchanged);
    assert_eq!(again.statuses, StatusSync::default());
    let text = world.metrics.render();
    assert!(
        text.contains("hermes_operator_status_patches_total{scope=\"shop\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("hermes_operator_configs_unchanged_total{scope=\"shop\"} 1"),
        "{text}"
    );
    assert_eq!(world.finish().await.len(), 5);
}

#[tokio::test]
async fn a_follower_writes_nothing_at_all() {
    let mut world = World::new(Role::Follower);
    world.expect(Vec::new());
    let error = world.reconcile().await.unwrap_err();
    assert!(error.is_not_leader(), "{error}");
    assert_eq!(error.step(), "write_config");
    // With the config already written, the status step refuses too.
    world.config_map_up_to_date();
    let error = world.reconcile().await.unwrap_err();
    assert!(error.is_not_leader(), "{error}");
    assert_eq!(error.step(), "sync_statuses");
    assert!(world.outcomes.0.lock().unwrap().is_empty());
    assert!(world.finish().await.is_empty());
}

#[tokio::test]
async fn a_leader_whose_lease_was_taken_writes_nothing() {
    let mut world = World::new(Role::ElectedLeader);
    world.expect(vec![Call::read_leader_lease(Reply::Object(leader_lease(
        "op-b",
    )))]);
    let error = world.reconcile().await.unwrap_err();
    assert!(error.is_not_leader(), "{error}");
    let answered = world.finish().await;
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].method, Method::GET);
}

#[tokio::test]
async fn a_confirmed_leader_writes_after_reading_its_lease_once() {
    let mut world = World::new(Role::ElectedLeader);
    let mut calls = vec![
        Call::read_leader_lease(Reply::Object(leader_lease("op-a"))),
        Call::apply_config_map(Reply::Echo),
    ];
    calls.extend(both_statuses_patched());
    world.expect(calls);
    let reconciled = world.reconcile().await.unwrap();
    assert_eq!(reconciled.write, ConfigWrite::Written);
    assert_eq!(world.finish().await.len(), 6);
}

#[tokio::test]
async fn a_status_patch_answered_404_is_not_an_error() {
    let mut world = World::new(Role::Leader);
    world.config_map_up_to_date();
    world.expect(vec![
        Call::patch_status("tags", "views", Reply::Failure(404)),
        Call::patch_status("triggers", "page-view", Reply::Object(trigger_object())),
        Call::record_event(),
    ]);
    let reconciled = world.reconcile().await.unwrap();
    assert_eq!(
        reconciled.statuses,
        StatusSync {
            patched: 1,
            gone: 1,
            deferred: 0
        }
    );
    world.finish().await;
}

#[tokio::test]
async fn a_failed_status_patch_fails_the_sync_step_naming_the_object() {
    let mut world = World::new(Role::Leader);
    world.config_map_up_to_date();
    world.expect(vec![Call::patch_status(
        "tags",
        "views",
        Reply::Failure(409),
    )]);
    let error = world.reconcile().await.unwrap_err();
    assert_eq!(error.step(), "sync_statuses");
    assert!(error.is_transient());
    assert!(error.to_string().contains("Tag/views"), "{error}");
    world.finish().await;
}

#[tokio::test]
async fn a_failed_config_write_is_published_as_a_failure_and_stops_before_statuses() {
    let mut world = World::new(Role::Leader);
    world.expect(vec![Call::apply_config_map(Reply::Failure(500))]);
    let error = world.reconcile().await.unwrap_err();
    assert_eq!(error.step(), "write_config");
    assert!(error.is_transient());
    {
        let outcomes = world.outcomes.0.lock().unwrap();
        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[0].outcome, Outcome::Failure);
        assert!(
            outcomes[0].reasons[0].starts_with("writing the config ConfigMap failed: "),
            "{:?}",
            outcomes[0].reasons
        );
    }
    world.finish().await;
}
