//! Config publication outcomes reach their Pub/Sub topic (the emulator): one `success`
//! when a config is written with every object in it, one `failure` naming the problem.

use std::time::Duration;

use hermes_operator::publication::{Outcome, PublicationMessage, PublicationOptions};
use hermes_tests::fixtures::{self, TagFixture, TriggerFixture};
use hermes_tests::gateway_config::wait_config;
use hermes_tests::namespace_with_crds;
use hermes_tests::operator::{Operator, options};
use hermes_tests::pubsub::{PubSubEmulator, ReceivedMessage, SubscriptionOptions};

fn decode(message: &ReceivedMessage) -> PublicationMessage {
    serde_json::from_slice(&message.data).expect("outcome message is JSON")
}

#[tokio::test]
async fn success_and_failure_outcomes_are_published_once_each() {
    let ns = namespace_with_crds("outcomes").await.unwrap();
    let emulator = PubSubEmulator::start().await.expect("emulator starts");
    let topic = "projects/hermes-local/topics/config-outcomes";
    let subscription = "projects/hermes-local/subscriptions/config-outcomes";
    emulator.create_topic(topic).await.unwrap();
    emulator
        .create_subscription(subscription, topic, SubscriptionOptions::default())
        .await
        .unwrap();

    let page_view = fixtures::trigger("page-view").event("page_view");
    let views = fixtures::tag("views").fired_by("page-view");
    ns.apply(&[&page_view, &views]).await.unwrap();
    let mut options = options(&ns, "op");
    options.publication = Some(PublicationOptions {
        topic: topic.to_string(),
        emulator_host: Some(emulator.host_port()),
    });
    let _operator = Operator::start(ns.client(), options);

    // One message at a time: exactly one is expected each time.
    let pull = |within| emulator.pull(subscription, 1, within);
    let config = wait_config(&ns, |_| Ok(())).await;
    let got = pull(Duration::from_secs(30)).await.unwrap();
    assert_eq!(got.len(), 1, "one success message");
    let success = decode(&got[0]);
    assert_eq!(success.outcome, Outcome::Success);
    assert_eq!(success.scope, ns.name());
    assert_eq!(success.config_hash, config.hash);
    assert!(success.reasons.is_empty());
    assert_eq!(success.objects.len(), 2);
    assert!(success.objects.iter().all(|o| o.accepted));
    assert_eq!(got[0].attributes["outcome"], "success");
    assert_eq!(got[0].attributes["scope"], ns.name());

    // No `promo-view` Trigger.
    ns.apply(&[&fixtures::promo_tag()]).await.unwrap();
    let got = pull(Duration::from_secs(30)).await.unwrap();
    assert_eq!(got.len(), 1, "one failure message");
    let failure = decode(&got[0]);
    assert_eq!(failure.outcome, Outcome::Failure);
    assert_eq!(got[0].attributes["outcome"], "failure");
    assert!(
        failure
            .reasons
            .iter()
            .any(|r| r.contains("Tag/promo") && r.contains("promo-view")),
        "{:?}",
        failure.reasons
    );
    let promo = failure.objects.iter().find(|o| o.name == "promo").unwrap();
    assert!(!promo.accepted);

    // Nothing more while nothing changes.
    let more = pull(Duration::from_secs(2)).await.unwrap();
    assert!(
        more.is_empty(),
        "unexpected: {:?}",
        more.iter().map(decode).collect::<Vec<_>>()
    );
}
