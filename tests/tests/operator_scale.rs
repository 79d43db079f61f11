//! The operator at scale, in CI: 1,000 Tags, each with its Trigger (shaped like
//! `examples/`, see `hermes_compiler::synthetic`), applied at once to one namespace with
//! the operator and a gateway as processes. Every object goes `Ready`, the gateway serves
//! the config and fires the synthetic Tags, and one changed Tag is served. The 10,000-Tag
//! numbers come from the `operator-scale` driver (`docs/performance.md`).

use std::time::Duration;

use hermes_compiler::synthetic::Variety;
use hermes_tests::scale::{self, TOPIC_OF_PAIR_1};
use hermes_tests::stack::Stack;
use serde_json::{Value, json};

const PAIRS: usize = 1_000;
/// Applying 2,000 objects and patching as many statuses, on a loaded two-core machine with
/// debug binaries.
const ALL_LIVE_WITHIN: Duration = Duration::from_secs(240);
/// Pairs 1, 201, 401, 601 and 801 are signal Tags on `event_001` publishing to `scale-1`.
const EVENT_001_HIT: &str = "/g/collect?v=2&tid=G-0000&en=event_001&ep.sku=BOWL-10";
const TAGS_ON_EVENT_001: usize = 5;

/// The messages the gateway publishes for [`EVENT_001_HIT`], as JSON, sorted.
async fn event_001_messages(stack: &Stack) -> Vec<Value> {
    assert_eq!(stack.get(EVENT_001_HIT).await, 204);
    let got = stack
        .messages(
            TOPIC_OF_PAIR_1,
            TAGS_ON_EVENT_001 + 1,
            Duration::from_secs(10),
        )
        .await;
    let mut got: Vec<Value> = got.iter().map(|m| m.json().unwrap()).collect();
    got.sort_by_key(Value::to_string);
    got
}

fn signal(version: &str) -> Value {
    json!({"sku": "BOWL-10", "source": "signal", "version": version})
}

#[tokio::test]
async fn a_thousand_tags_with_their_triggers_all_go_live_are_served_and_a_change_follows() {
    let stack = Stack::start("scale", 1).await;
    scale::create_topics(&stack, Variety::Uniform)
        .await
        .unwrap();

    scale::apply_pairs(&stack, Variety::Uniform, PAIRS, 1)
        .await
        .unwrap();
    let hash = scale::wait_all_live(&stack, PAIRS, ALL_LIVE_WITHIN)
        .await
        .unwrap();
    let config = scale::config_size(&stack).await.unwrap();
    assert_eq!(config.hash, hash);
    assert_eq!(stack.gateway_hash().await.as_deref(), Some(hash.as_str()));
    assert_eq!(
        event_001_messages(&stack).await,
        vec![signal("1"); TAGS_ON_EVENT_001]
    );

    let (changed, took) = scale::change_tag_until_served(&stack, Variety::Uniform, 1, 2, &hash)
        .await
        .unwrap();
    assert_ne!(changed, hash);
    assert!(
        took <= Duration::from_secs(5),
        "the changed Tag was served {took:?} after its apply"
    );
    let mut want = vec![signal("1"); TAGS_ON_EVENT_001 - 1];
    want.push(signal("2"));
    want.sort_by_key(Value::to_string);
    assert_eq!(event_001_messages(&stack).await, want);
}
