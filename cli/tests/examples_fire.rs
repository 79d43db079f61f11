//! The examples do what examples/README.md says, through the gateway's own parsers and
//! evaluator (everything but Pub/Sub).

use std::path::PathBuf;
use std::time::SystemTime;

use hermes_compiler::manifest;
use hermes_gateway::collect::{Limits, MpQuery, parse_ga4, parse_mp};
use hermes_gateway::event::{Event, RequestInfo};
use hermes_gateway::fire::{PreparedConfig, RenderedMessage, evaluate};
use serde_json::json;

fn examples() -> PreparedConfig {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let loaded = manifest::load_paths(&[root]).unwrap();
    let output = loaded.compile("hermes-local");
    assert_eq!(output.diagnostics, []);
    PreparedConfig::prepare(output.config).unwrap()
}

fn request(path: &str, query: &str, headers: &[(&str, &str)]) -> RequestInfo {
    RequestInfo {
        method: "POST".into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        // Undecoded is enough here: only plain parameters (`tid`) are read as variables.
        query: query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RequestInfo::default()
    }
}

fn fire(config: &PreparedConfig, events: &[Event], request: &RequestInfo) -> Vec<RenderedMessage> {
    events
        .iter()
        .flat_map(|event| evaluate(config, event, request, 0, false).messages)
        .collect()
}

fn ga4(config: &PreparedConfig, query: &str, headers: &[(&str, &str)]) -> Vec<RenderedMessage> {
    let request = request("/g/collect", query, headers);
    let events = parse_ga4(query, b"", &request, &Limits::default()).unwrap();
    fire(config, &events, &request)
}

#[test]
fn a_bare_low_stock_hit_publishes_one_signal_message() {
    let messages = ga4(
        &examples(),
        "v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10",
        &[],
    );
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].topic, "projects/hermes-local/topics/low-stock");
    assert_eq!(
        messages[0].data.value(),
        json!({"sku": "BOWL-10", "source": "signal"})
    );
}

#[test]
fn a_purchase_publishes_its_promoted_item_and_its_low_stock_item() {
    let query = "v=2&tid=G-0000&cid=1.2&en=purchase&cu=EUR&epn.value=42.5\
                 &ep.transaction_id=T-1&ep.coupon=SUMMER\
                 &pr1=idBOWL-10~nmBowl~qt2~pr10\
                 &pr2=idMUG-99~nmMug~qt1~pr22.5~piP-7~pnSummer%20sale";
    let mut messages = ga4(&examples(), query, &[]);
    messages.sort_by(|a, b| a.tag.cmp(&b.tag));
    let tags: Vec<&str> = messages.iter().map(|m| m.tag.as_str()).collect();
    assert_eq!(tags, ["low-stock-items", "promotion-used"], "{messages:#?}");
    assert_eq!(
        messages[0].data.value(),
        json!({"sku": "BOWL-10", "threshold": 5, "quantity": 2, "transaction_id": "T-1"})
    );
    assert_eq!(
        messages[1].data.value(),
        json!({"transaction_id": "T-1", "value": 42.5, "currency": "EUR", "item_id": "MUG-99",
               "promotion_id": "P-7", "promotion_name": "Summer sale", "coupon": "SUMMER"})
    );
    assert_eq!(messages[1].ordering_key, None, "promotions are not ordered");
    assert_eq!(messages[1].attributes["event_name"], "purchase");
}

#[test]
fn a_purchase_without_promotions_or_low_stock_items_publishes_nothing() {
    let query = "v=2&tid=G-0000&cid=1.2&en=purchase&ep.transaction_id=T-2&pr1=idMUG-99~qt1";
    assert_eq!(ga4(&examples(), query, &[]), []);
}

#[test]
fn add_to_cart_sends_typed_fields_and_request_attributes_when_consented() {
    let query = "v=2&tid=G-0000&cid=1.2&sct=3&seg=1&en=add_to_cart&epn.value=9.5&gcs=G111\
                 &pr1=idMUG-22~qt1";
    let messages = ga4(&examples(), query, &[("x-shop-id", "shop-7")]);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let data = messages[0].data.value();
    assert_eq!(data["client_id"], "1.2");
    assert_eq!(data["session_number"], 3);
    assert_eq!(data["value"], 9.5);
    assert_eq!(data["engaged_session"], true);
    assert_eq!(data["items"][0]["item_id"], "MUG-22");
    assert_eq!(data["schema_version"], 2);
    assert_eq!(messages[0].attributes["shop"], "shop-7");
    assert_eq!(messages[0].attributes["measurement_id"], "G-0000");
    let denied = ga4(&examples(), &query.replace("gcs=G111", "gcs=G110"), &[]);
    assert_eq!(denied, []);
}

fn mp(config: &PreparedConfig, body: serde_json::Value) -> Vec<RenderedMessage> {
    let query = "measurement_id=G-0000&api_secret=s";
    let request = request("/mp/collect", query, &[]);
    let outcome = parse_mp(
        body.to_string().as_bytes(),
        &MpQuery::from_request(&request),
        &request,
        SystemTime::now(),
    );
    assert!(outcome.is_valid(), "{:?}", outcome.validation);
    fire(config, &outcome.events, &request)
}

#[test]
fn a_measurement_protocol_purchase_goes_to_purchases_unless_internal() {
    let config = examples();
    let purchase = |internal: &str| {
        json!({"client_id": "1.2", "user_properties": {"internal": {"value": internal}},
               "events": [{"name": "purchase", "params": {"session_id": "123",
                 "transaction_id": "T-9", "value": 10, "currency": "EUR"}}]})
    };
    let messages = mp(&config, purchase("false"));
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].topic, "projects/hermes-local/topics/purchases");
    let data = messages[0].data.value();
    assert_eq!(data["transaction_id"], "T-9");
    assert_eq!(data["source"], "shop-backend");
    assert!(data.get("ip_override").is_none() && data.get("user_agent").is_none());
    assert_eq!(mp(&config, purchase("true")), []);
}
