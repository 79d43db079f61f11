//! The examples' LowStock signal, the hit every "does the product serve at all" test
//! sends: a GA4 hit that fires the `low-stock-signal` Tag, and the one message it must
//! publish.

use std::time::Duration;

use serde_json::{Value, json};

use crate::pubsub::PubSubEmulator;

/// A GA4 hit that fires the examples' `low-stock-signal` Tag.
pub const LOW_STOCK_HIT: &str = "/g/collect?v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10";

/// How long the message may take to arrive.
const DELIVERY: Duration = Duration::from_secs(30);

/// The payload [`LOW_STOCK_HIT`] publishes.
pub fn low_stock_message() -> Value {
    json!({"sku": "BOWL-10", "source": "signal"})
}

/// Sends [`LOW_STOCK_HIT`] to the gateway at `base` (`http://HOST:PORT`), expects 204,
/// and exactly one message on `subscription` (of the `low-stock` topic) with its payload.
/// Panics with what it saw otherwise, as a failing test should.
pub async fn assert_low_stock_hit_published(
    base: &str,
    emulator: &PubSubEmulator,
    subscription: &str,
) {
    let response = reqwest::get(format!("{base}{LOW_STOCK_HIT}"))
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 204, "the hit is accepted");
    let got = emulator
        .pull(subscription, 2, DELIVERY)
        .await
        .expect("the emulator answers");
    assert_eq!(got.len(), 1, "exactly one message: {got:?}");
    let body: Value = serde_json::from_slice(&got[0].data).expect("JSON message");
    assert_eq!(body, low_stock_message());
}
