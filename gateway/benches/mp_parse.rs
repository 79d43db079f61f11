//! Measurement Protocol parsing and validation, per body: a purchase with 3 items and a
//! batch of 25 events, against `baseline/serde_json_value` (only decoding the same body
//! into a `serde_json::Value`) measured in the same run: read the results as ratios to it.
//!
//! `cargo bench -p hermes-gateway --bench mp_parse`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hermes_gateway::collect::{MpQuery, parse_mp};
use hermes_gateway::event::RequestInfo;

const PURCHASE: &str = r#"{"client_id":"1234567890.1732880000","timestamp_micros":1732880000000000,
"user_properties":{"tier":{"value":"gold"}},
"events":[{"name":"purchase","params":{"session_id":"1732889000","transaction_id":"MP-1","currency":"EUR",
"value":99.9,"tax":7.1,"coupon":"SUMMER24","items":[
{"item_id":"BOWL-10","item_name":"Bowl","price":33.3,"quantity":3},
{"item_id":"SPOON-3","item_name":"Spoon","price":7.5,"quantity":2,"promotion_id":"P-1"},
{"item_id":"CUP-1","item_name":"Cup","price":4.2,"quantity":6,"item_category":"Tableware"}]}}]}"#;

/// A back end's batch: 25 `add_to_cart` events, each with one item (Google's maximum).
fn batch_of_25() -> String {
    let events: Vec<String> = (0..25)
        .map(|i| {
            format!(
                r#"{{"name":"add_to_cart","params":{{"session_id":"1732889000","currency":"EUR","value":{i}.5,"items":[{{"item_id":"SKU-{i}","price":{i}.5,"quantity":1}}]}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"client_id":"1234567890.1732880000","timestamp_micros":1732880000000000,"events":[{}]}}"#,
        events.join(",")
    )
}

fn mp_parse(c: &mut Criterion) {
    let request = RequestInfo::default();
    let query = MpQuery {
        measurement_id: Some("G-SHOP"),
        ..Default::default()
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_micros(1_732_883_600_000_000);
    let batch = batch_of_25();
    let mut group = c.benchmark_group("mp");
    for (name, body) in [("purchase", PURCHASE.to_owned()), ("batch_of_25", batch)] {
        let outcome = parse_mp(body.as_bytes(), &query, &request, now);
        assert!(
            outcome.is_valid() && !outcome.events.is_empty(),
            "{name} is a valid body: {:?}",
            outcome.validation
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("baseline/serde_json_value", name),
            &body,
            |b, body| {
                b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body.as_bytes())))
            },
        );
        group.bench_with_input(
            BenchmarkId::new("parse_and_validate", name),
            &body,
            |b, body| b.iter(|| parse_mp(black_box(body.as_bytes()), &query, &request, now)),
        );
    }
    group.finish();
}

criterion_group!(benches, mp_parse);
criterion_main!(benches);
