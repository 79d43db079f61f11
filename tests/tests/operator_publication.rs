//! Config publication outcomes reach their Pub/Sub topic (the emulator): one `success`
//! when a config is written with every object in it, one `failure` naming the problem.

mod operator_support;

use std::time::Duration;

use hermes_operator::publication::{Outcome, PublicationMessage, PublicationOptions};
use hermes_tests::pubsub::{PubSubEmulator, ReceivedMessage, SubscriptionOptions};
use operator_support::*;

const VALID: &str = r#"
apiVersion: hermes.io/v1alpha1
kind: Trigger
metadata:
  name: page-view
spec:
  event:
    name: page_view
---
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata:
  name: views
spec:
  firingTriggers: [page-view]
  topic: projects/hermes-local/topics/views
"#;

const BROKEN: &str = r#"
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata:
  name: promo
spec:
  firingTriggers: [promo-view]
  topic: projects/hermes-local/topics/promotions
"#;

fn decode(message: &ReceivedMessage) -> PublicationMessage {
    serde_json::from_slice(&message.data).expect("outcome message is JSON")
}

#[tokio::test]
async fn success_and_failure_outcomes_are_published_once_each() {
    let ns = namespace("outcomes").await;
    let emulator = PubSubEmulator::start().await.expect("emulator starts");
    let topic = "projects/hermes-local/topics/config-outcomes";
    let subscription = "projects/hermes-local/subscriptions/config-outcomes";
    emulator.create_topic(topic).await.unwrap();
    emulator
        .create_subscription(subscription, topic, SubscriptionOptions::default())
        .await
        .unwrap();

    apply_yaml(&ns, VALID).await;
    let mut options = options(&ns, "op");
    options.publication = Some(PublicationOptions {
        topic: topic.to_string(),
        emulator_host: Some(emulator.host_port()),
    });
    let _operator = Operator::start(ns.client(), options);

    let config = wait_config(&ns, |_| Ok(())).await;
    let got = emulator
        .pull(subscription, 1, Duration::from_secs(30))
        .await
        .unwrap();
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

    apply_yaml(&ns, BROKEN).await;
    let got = emulator
        .pull(subscription, 1, Duration::from_secs(30))
        .await
        .unwrap();
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
    let more = emulator
        .pull(subscription, 1, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        more.is_empty(),
        "unexpected: {:?}",
        more.iter().map(decode).collect::<Vec<_>>()
    );
}
