//! Measurement Protocol: every rule with its code and message, and the event data of
//! valid requests.

use std::time::{Duration, UNIX_EPOCH};

use hermes_crds::api::ClientKind;
use serde_json::{Value, json};

use super::{MpOutcome, MpQuery, ValidationCode as Code, ValidationMessage, parse_mp};
use crate::event::{CONSENT_KEY, RequestInfo};

/// 2024-06-10T06:13:20Z, in microseconds.
const NOW_MICROS: i64 = 1_718_000_000_000_000;
const HOUR_MICROS: i64 = 3_600_000_000;

const WEB: MpQuery<'static> = MpQuery {
    measurement_id: Some("G-8XYZ12345"),
    firebase_app_id: None,
    api_secret: Some("s3cret"),
};

fn request() -> RequestInfo {
    RequestInfo {
        method: "POST".into(),
        path: "/mp/collect".into(),
        client_ip: Some("10.1.2.3".parse().unwrap()),
        headers: [("user-agent", "shop-backend/1.4")].into_iter().collect(),
        ..RequestInfo::default()
    }
}

fn run_bytes(body: &[u8], query: &MpQuery<'_>) -> MpOutcome {
    let now = UNIX_EPOCH + Duration::from_micros(NOW_MICROS as u64);
    parse_mp(body, query, &request(), now)
}

fn run(body: Value) -> MpOutcome {
    run_bytes(body.to_string().as_bytes(), &WEB)
}

/// The messages of a request, as (path, code, description).
fn messages(body: Value) -> Vec<(String, Code, String)> {
    let outcome = run(body);
    assert_eq!(
        outcome.dropped.len(),
        outcome.validation.validation_messages.len(),
        "every message says what it leaves out"
    );
    outcome
        .validation
        .validation_messages
        .into_iter()
        .map(|m| (m.field_path, m.validation_code, m.description))
        .collect()
}

/// The single message of a request that breaks one rule.
fn only_message(body: Value) -> (String, Code, String) {
    let mut found = messages(body);
    assert_eq!(found.len(), 1, "expected one message, got {found:#?}");
    found.remove(0)
}

fn with_event(event: Value) -> Value {
    json!({"client_id": "123.456", "events": [event]})
}

fn with_params(params: Value) -> Value {
    with_event(json!({"name": "purchase", "params": params}))
}

#[test]
fn valid_purchase_becomes_sgtm_event_data() {
    let outcome = run(json!({
        "client_id": "1234567890.1718000000",
        "user_id": "customer-42",
        "timestamp_micros": NOW_MICROS - 2 * HOUR_MICROS,
        "user_properties": {"membership": {"value": "gold"}, "orders": {"value": 12}},
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "user_data": {"sha256_email_address": ["a3f1"]},
        "events": [{
            "name": "purchase",
            "params": {
                "session_id": 1717990000,
                "engagement_time_msec": "1200",
                "transaction_id": "T-1001",
                "value": 52.48,
                "currency": "EUR",
                "coupon": "WELCOME10",
                "items": [
                    {"item_id": "BOWL-10", "item_name": "Steel Bowl", "price": 19.99, "quantity": 2, "material": "steel"},
                    {"item_id": "TOY-3", "price": 12.5, "quantity": 1, "promotion_id": "SUMMER24", "promotion_name": "Summer Sale"}
                ]
            }
        }]
    }));
    assert!(outcome.is_valid(), "{:?}", outcome.validation);
    assert_eq!(outcome.events.len(), 1);
    let event = &outcome.events[0];
    assert_eq!(event.client, ClientKind::MeasurementProtocol);
    assert_eq!(
        crate::event::event_data_value(&event.data),
        json!({
            "event_name": "purchase",
            "client_id": "1234567890.1718000000",
            "user_id": "customer-42",
            "ga_session_id": "1717990000",
            "engagement_time_msec": 1200,
            "transaction_id": "T-1001",
            "value": 52.48,
            "currency": "EUR",
            "coupon": "WELCOME10",
            "items": [
                {"item_id": "BOWL-10", "item_name": "Steel Bowl", "price": 19.99, "quantity": 2, "material": "steel"},
                {"item_id": "TOY-3", "price": 12.5, "quantity": 1, "promotion_id": "SUMMER24", "promotion_name": "Summer Sale"}
            ],
            "timestamp_micros": NOW_MICROS - 2 * HOUR_MICROS,
            "x-ga-mp2-user_properties": {"membership": "gold", "orders": 12},
            "user_data": {"sha256_email_address": ["a3f1"]},
            CONSENT_KEY: {"ad_user_data": "granted", "ad_personalization": "denied"},
            "x-ga-measurement_id": "G-8XYZ12345",
            "x-ga-protocol_version": "2",
            "ip_override": "10.1.2.3",
            "user_agent": "shop-backend/1.4"
        })
    );
    let keys: Vec<&str> = event.data.keys().take(2).map(AsRef::as_ref).collect();
    assert_eq!(keys, ["event_name", "client_id"]);
}

#[test]
fn several_events_share_the_request_fields() {
    let outcome = run(json!({
        "client_id": "1.2",
        "events": [
            {"name": "tutorial_begin"},
            {"name": "LowStock", "params": {"sku": "BOWL-10"}, "timestamp_micros": NOW_MICROS - HOUR_MICROS}
        ]
    }));
    assert!(outcome.is_valid());
    let names: Vec<&str> = outcome.events.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["tutorial_begin", "LowStock"]);
    assert_eq!(outcome.events[0].data["client_id"], "1.2");
    assert!(!outcome.events[0].data.contains_key("timestamp_micros"));
    assert_eq!(outcome.events[1].data["sku"], "BOWL-10");
    assert_eq!(
        outcome.events[1].data["timestamp_micros"],
        json!(NOW_MICROS - HOUR_MICROS)
    );
}

#[test]
fn camel_case_keys_are_accepted() {
    let outcome = run(json!({
        "clientId": "1.2",
        "userId": "u-1",
        "timestampMicros": (NOW_MICROS - HOUR_MICROS).to_string(),
        "userProperties": {"tier": {"value": "gold"}},
        "nonPersonalizedAds": true,
        "ipOverride": "203.0.113.9",
        "validationBehavior": "ENFORCE_RECOMMENDATIONS",
        "consent": {"adUserData": "granted"},
        "events": [{"name": "login", "timestampMicros": NOW_MICROS}]
    }));
    assert!(outcome.is_valid(), "{:?}", outcome.validation);
    let data = &outcome.events[0].data;
    assert_eq!(data["client_id"], "1.2");
    assert_eq!(data["user_id"], "u-1");
    assert_eq!(
        data["timestamp_micros"],
        json!(NOW_MICROS),
        "event's own wins"
    );
    assert_eq!(data["x-ga-mp2-user_properties"], json!({"tier": "gold"}));
    assert_eq!(data["ip_override"], "203.0.113.9", "body ip_override wins");
    assert_eq!(data["x-ga-npa"], "1");
    assert_eq!(
        data[CONSENT_KEY],
        json!({"ad_user_data": "granted", "ad_personalization": "denied"})
    );
}

#[test]
fn app_streams_use_firebase_app_id_and_app_instance_id() {
    let app = MpQuery {
        measurement_id: None,
        firebase_app_id: Some("1:1234567890:android:321abc456def7890"),
        api_secret: Some("s"),
    };
    let body = json!({
        "app_instance_id": "bc17b822c8c84a7e84ac7e010cc2dd35",
        "events": [{"name": "level_up", "params": {"level": 5}}]
    });
    let outcome = run_bytes(body.to_string().as_bytes(), &app);
    assert!(outcome.is_valid(), "{:?}", outcome.validation);
    let data = &outcome.events[0].data;
    assert_eq!(data["client_id"], "bc17b822c8c84a7e84ac7e010cc2dd35");
    assert_eq!(
        data["x-ga-app_instance_id"],
        "bc17b822c8c84a7e84ac7e010cc2dd35"
    );
    assert_eq!(
        data["x-ga-firebase_app_id"],
        "1:1234567890:android:321abc456def7890"
    );
    assert!(!data.contains_key("x-ga-measurement_id"));

    let missing = run_bytes(
        json!({"events": [{"name": "x"}]}).to_string().as_bytes(),
        &app,
    );
    assert_eq!(
        missing.validation.validation_messages,
        [ValidationMessage::new(
            "app_instance_id",
            Code::ValueRequired,
            "app_instance_id is required with firebase_app_id."
        )]
    );
    let bad = run_bytes(
        json!({"app_instance_id": "not-hex", "events": [{"name": "x"}]})
            .to_string()
            .as_bytes(),
        &app,
    );
    assert_eq!(
        bad.validation.validation_messages[0].description,
        "Measurement app_instance_id is expected to be a 32 digit hexadecimal number but was \
         [7] digits."
    );
}

#[test]
fn query_needs_exactly_one_stream_id() {
    let body = json!({"client_id": "1.2", "events": [{"name": "x"}]}).to_string();
    let none = run_bytes(body.as_bytes(), &MpQuery::default());
    assert_eq!(none.validation.validation_messages.len(), 1);
    assert_eq!(
        none.validation.validation_messages[0].field_path,
        "measurement_id"
    );
    assert_eq!(
        none.validation.validation_messages[0].validation_code,
        Code::ValueRequired
    );
    let both = MpQuery {
        firebase_app_id: Some("1:2:android:3"),
        ..WEB
    };
    let both = run_bytes(body.as_bytes(), &both);
    assert_eq!(
        both.validation.validation_messages[0].field_path,
        "firebase_app_id"
    );
    assert_eq!(
        both.validation.validation_messages[0].validation_code,
        Code::ValueInvalid
    );
}

#[test]
fn query_reads_from_the_request() {
    let mut request = request();
    request.query = [
        ("measurement_id", "G-1"),
        ("api_secret", "abc"),
        ("firebase_app_id", ""),
    ]
    .into_iter()
    .collect();
    let query = MpQuery::from_request(&request);
    assert_eq!(
        query,
        MpQuery {
            measurement_id: Some("G-1"),
            firebase_app_id: None,
            api_secret: Some("abc")
        }
    );
}

#[test]
fn client_id_is_required_for_web_streams() {
    assert_eq!(
        only_message(json!({"events": [{"name": "x"}]})),
        (
            "client_id".into(),
            Code::ValueRequired,
            "Measurement requires a client_id.".into()
        )
    );
    assert_eq!(
        only_message(json!({"client_id": "", "events": [{"name": "x"}]})).1,
        Code::ValueInvalid
    );
    assert_eq!(
        only_message(json!({"client_id": 12, "events": [{"name": "x"}]})).1,
        Code::ValueInvalid
    );
}

#[test]
fn body_that_is_not_json_is_one_clear_message() {
    let outcome = run_bytes(b"client_id=1&en=purchase", &WEB);
    assert!(!outcome.is_valid());
    let message = &outcome.validation.validation_messages[0];
    assert_eq!(message.field_path, "");
    assert_eq!(message.validation_code, Code::ValueInvalid);
    assert!(
        message
            .description
            .starts_with("The request body is not valid JSON: expected value"),
        "{}",
        message.description
    );
    let empty = run_bytes(b"", &WEB);
    assert_eq!(
        empty.validation.validation_messages[0].validation_code,
        Code::ValueInvalid
    );
    assert_eq!(
        only_message(json!([{"name": "x"}])),
        (
            "".into(),
            Code::ValueInvalid,
            "The request body must be a JSON object with client_id (or app_instance_id) and \
             events."
                .into()
        )
    );
}

#[test]
fn twenty_six_events_exceed_the_maximum() {
    let events: Vec<Value> = (0..26).map(|i| json!({"name": format!("e{i}")})).collect();
    assert_eq!(
        only_message(json!({"client_id": "1.2", "events": events})),
        (
            "events".into(),
            Code::ExceededMaxEntities,
            "The request has 26 events; the maximum is 25.".into()
        )
    );
    let events: Vec<Value> = (0..25).map(|i| json!({"name": format!("e{i}")})).collect();
    assert_eq!(
        run(json!({"client_id": "1.2", "events": events}))
            .events
            .len(),
        25
    );
}

#[test]
fn events_are_required() {
    assert_eq!(
        only_message(json!({"client_id": "1.2"})),
        (
            "events".into(),
            Code::ValueRequired,
            "events is required: send at least one event.".into()
        )
    );
    assert_eq!(
        only_message(json!({"client_id": "1.2", "events": []})).1,
        Code::ValueRequired
    );
    assert_eq!(
        only_message(json!({"client_id": "1.2", "events": {"name": "x"}})).1,
        Code::ValueInvalid
    );
    assert_eq!(
        only_message(json!({"client_id": "1.2", "events": ["purchase"]})).0,
        "events[0]"
    );
}

#[test]
fn forty_one_character_event_name_is_invalid() {
    assert_eq!(
        only_message(with_event(
            json!({"name": "this_event_name_is_far_too_long_to_be_accepted_x"[..41]})
        )),
        (
            "events".into(),
            Code::NameInvalid,
            "Event at index: [0] has invalid name [this_event_name_is_far_too_long_to_be_acc]. \
             Names must be at most 40 characters; this one has 41."
                .into()
        )
    );
}

#[test]
fn event_name_rules() {
    assert_eq!(
        only_message(with_event(json!({"name": "session_start"}))),
        (
            "events".into(),
            Code::NameReserved,
            "Event at index: [0] has invalid name [session_start]. The name is reserved.".into()
        )
    );
    assert_eq!(
        only_message(with_event(json!({"name": "google_purchase"}))),
        (
            "events".into(),
            Code::NameReserved,
            "Event at index: [0] has invalid name [google_purchase]. Names must not start with \
             the reserved prefix \"google_\"."
                .into()
        )
    );
    assert_eq!(
        only_message(with_event(json!({"name": "add-to-cart"}))),
        (
            "events".into(),
            Code::NameInvalid,
            "Event at index: [0] has invalid name [add-to-cart]. Only alphanumeric characters \
             and underscores are allowed."
                .into()
        )
    );
    assert_eq!(
        only_message(with_event(json!({"params": {}}))),
        (
            "events[0].name".into(),
            Code::ValueRequired,
            "The event has no name.".into()
        )
    );
    assert_eq!(
        only_message(with_event(json!({"name": 7}))).1,
        Code::ValueInvalid
    );
    assert_eq!(
        only_message(with_event(json!({"name": "x", "parameters": {}}))),
        (
            "".into(),
            Code::ValueInvalid,
            "Unable to parse Measurement Protocol JSON payload. (events[0]) parameters: Cannot \
             find field."
                .into()
        )
    );
}

#[test]
fn timestamps_older_than_72_hours_are_invalid_and_future_ones_out_of_bounds() {
    let old = NOW_MICROS - 73 * HOUR_MICROS;
    assert_eq!(
        only_message(
            json!({"client_id": "1.2", "timestamp_micros": old, "events": [{"name": "x"}]})
        ),
        (
            "timestamp_micros".into(),
            Code::ValueInvalid,
            format!(
                "Measurement timestamp_micros has timestamp too far in the past. Measurement \
                 protocol only supports timestamps [72h] into the past ({old} is 73 hours old)."
            )
        )
    );
    let edge = NOW_MICROS - 72 * HOUR_MICROS;
    assert!(
        run(json!({"client_id": "1.2", "timestamp_micros": edge, "events": [{"name": "x"}]}))
            .is_valid()
    );

    let future = NOW_MICROS + 10 * 60_000_000;
    assert_eq!(
        only_message(
            json!({"client_id": "1.2", "timestamp_micros": future, "events": [{"name": "x"}]})
        ),
        (
            "timestamp_micros".into(),
            Code::ValueOutOfBounds,
            format!(
                "timestamp_micros {future} is 10 minutes in the future; at most 5 minutes of \
                 clock skew is allowed."
            )
        )
    );
    let skewed = NOW_MICROS + 60_000_000;
    assert!(
        run(json!({"client_id": "1.2", "timestamp_micros": skewed, "events": [{"name": "x"}]}))
            .is_valid()
    );

    assert_eq!(
        only_message(with_event(json!({"name": "x", "timestamp_micros": old}))).0,
        "events[0].timestamp_micros"
    );
    assert_eq!(
        only_message(
            json!({"client_id": "1.2", "timestamp_micros": "yesterday", "events": [{"name": "x"}]})
        )
        .1,
        Code::ValueInvalid
    );
}

#[test]
fn param_rules() {
    let params: serde_json::Map<String, Value> =
        (0..26).map(|i| (format!("p{i}"), json!(i))).collect();
    assert_eq!(
        only_message(with_params(Value::Object(params))),
        (
            "events[0].params".into(),
            Code::ExceededMaxEntities,
            "The event has 26 parameters; the maximum is 25.".into()
        )
    );
    let long_name = "p".repeat(41);
    assert_eq!(
        only_message(with_params(json!({long_name.clone(): 1}))),
        (
            format!("events[0].params.{long_name}"),
            Code::NameInvalid,
            format!(
                "Parameter name [{long_name}] is invalid. Names must be at most 40 characters; \
                 this one has 41."
            )
        )
    );
    assert_eq!(
        only_message(with_params(json!({"gtag.config": 1}))).1,
        Code::NameReserved
    );
    assert_eq!(
        only_message(with_params(json!({"ga_thing": 1}))).1,
        Code::NameReserved
    );
    assert_eq!(
        only_message(with_params(json!({"firebase_conversion": 1}))).1,
        Code::NameReserved
    );
    assert_eq!(
        only_message(with_params(json!({"coupon": "C".repeat(101)}))),
        (
            "events[0].params.coupon".into(),
            Code::ValueOutOfBounds,
            "Parameter \"coupon\" value is 101 characters; the maximum is 100.".into()
        )
    );
    assert!(
        run(with_params(
            json!({"page_location": format!("https://x.example/{}", "a".repeat(900))})
        ))
        .is_valid()
    );
    assert_eq!(
        only_message(with_params(json!({"page_title": "t".repeat(301)}))).1,
        Code::ValueOutOfBounds
    );
    assert_eq!(
        only_message(with_params(json!({"nested": {"a": 1}}))),
        (
            "events[0].params.nested".into(),
            Code::ValueInvalid,
            "Parameter \"nested\" must be a string, number or boolean.".into()
        )
    );
    assert_eq!(
        only_message(with_event(json!({"name": "x", "params": [1]}))).1,
        Code::ValueInvalid
    );
    assert!(
        run(with_params(
            json!({"session_id": "1", "engagement_time_msec": 100, "flag": true, "none": null})
        ))
        .is_valid()
    );
}

#[test]
fn item_rules() {
    assert_eq!(
        only_message(with_params(json!({"items": [{"price": 1}]}))),
        (
            "events[0].params.items[0]".into(),
            Code::ValueRequired,
            "The item needs item_id or item_name.".into()
        )
    );
    assert!(run(with_params(json!({"items": [{"item_name": "Bowl"}]}))).is_valid());
    let custom: serde_json::Map<String, Value> =
        std::iter::once(("item_id".to_string(), json!("A")))
            .chain((0..11).map(|i| (format!("custom{i}"), json!("x"))))
            .collect();
    assert_eq!(
        only_message(with_params(json!({"items": [custom]}))),
        (
            "events[0].params.items[0]".into(),
            Code::ExceededMaxEntities,
            "The item has 11 custom parameters; the maximum is 10.".into()
        )
    );
    assert_eq!(
        only_message(with_params(json!({"items": "BOWL-10"}))).1,
        Code::ValueInvalid
    );
    assert_eq!(
        only_message(with_params(
            json!({"items": [{"item_id": "A", "bad-key": 1}]})
        ))
        .0,
        "events[0].params.items[0].bad-key"
    );
    assert_eq!(
        only_message(with_params(
            json!({"items": [{"item_id": "A".repeat(101)}]})
        ))
        .1,
        Code::ValueOutOfBounds
    );
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"item_id": i.to_string()}))
        .collect();
    assert_eq!(
        only_message(with_params(json!({"items": many}))).1,
        Code::ExceededMaxEntities
    );
}

#[test]
fn user_property_rules() {
    let base = |properties: Value| json!({"client_id": "1.2", "user_properties": properties, "events": [{"name": "x"}]});
    let many: serde_json::Map<String, Value> = (0..26)
        .map(|i| (format!("p{i}"), json!({"value": i})))
        .collect();
    assert_eq!(
        only_message(base(Value::Object(many))),
        (
            "user_properties".into(),
            Code::ExceededMaxEntities,
            "The request has 26 user properties; the maximum is 25.".into()
        )
    );
    let long = "u".repeat(25);
    assert_eq!(
        only_message(base(json!({long.clone(): {"value": 1}}))),
        (
            format!("user_properties.{long}"),
            Code::NameInvalid,
            format!(
                "User property name [{long}] is invalid. Names must be at most 24 characters; \
                 this one has 25."
            )
        )
    );
    assert_eq!(
        only_message(base(json!({"first_open_time": {"value": 1}}))).1,
        Code::NameReserved
    );
    assert_eq!(
        only_message(base(json!({"tier": {"value": "g".repeat(37)}}))),
        (
            "user_properties.tier.value".into(),
            Code::ValueOutOfBounds,
            "User property \"tier\" value is 37 characters; the maximum is 36.".into()
        )
    );
    assert_eq!(
        only_message(base(json!({"tier": {}}))),
        (
            "user_properties.tier.value".into(),
            Code::ValueRequired,
            "User property \"tier\" has no value.".into()
        )
    );
    assert_eq!(
        only_message(base(json!({"tier": "gold"}))).1,
        Code::ValueInvalid
    );
    assert_eq!(only_message(base(json!(["tier"]))).1, Code::ValueInvalid);
}

#[test]
fn duplicated_names_are_reported() {
    let body =
        br#"{"client_id":"1.2","events":[{"name":"purchase","params":{"value":1,"value":2}}]}"#;
    let outcome = run_bytes(body, &WEB);
    assert_eq!(
        outcome.validation.validation_messages,
        [ValidationMessage::new(
            "events[0].params.value",
            Code::NameDuplicated,
            "\"value\" is given more than once in the same object."
        )]
    );
    assert_eq!(
        only_message(json!({"client_id": "1.2", "clientId": "1.2", "events": [{"name": "x"}]})),
        (
            "clientId".into(),
            Code::NameDuplicated,
            "Field client_id is given twice, as \"client_id\" and \"clientId\".".into()
        )
    );
}

#[test]
fn other_field_rules() {
    let base = |key: &str, value: Value| {
        let mut body = json!({"client_id": "1.2", "events": [{"name": "x"}]});
        body[key] = value;
        only_message(body)
    };
    assert_eq!(
        base("user_id", json!("u".repeat(257))),
        (
            "user_id".into(),
            Code::ValueOutOfBounds,
            "user_id is 257 characters; the maximum is 256.".into()
        )
    );
    assert_eq!(base("user_id", json!(42)).1, Code::ValueInvalid);
    assert_eq!(
        base("consent", json!({"ad_user_data": "maybe"})),
        (
            "consent.ad_user_data".into(),
            Code::ValueInvalid,
            "consent.ad_user_data must be \"GRANTED\" or \"DENIED\".".into()
        )
    );
    assert_eq!(
        base("consent", json!({"ad_storage": "GRANTED"})).1,
        Code::NameInvalid
    );
    assert_eq!(base("consent", json!("GRANTED")).1, Code::ValueInvalid);
    assert_eq!(
        base("non_personalized_ads", json!("yes")).1,
        Code::ValueInvalid
    );
    assert_eq!(
        base("ip_override", json!("999.1.1.1")).1,
        Code::ValueInvalid
    );
    assert_eq!(
        base("validation_behavior", json!("STRICT")).1,
        Code::ValueInvalid
    );
    assert_eq!(base("device", json!("mobile")).1, Code::ValueInvalid);
    assert_eq!(base("user_location", json!([])).1, Code::ValueInvalid);
    assert_eq!(base("user_data", json!(1)).1, Code::ValueInvalid);
    assert_eq!(
        base("clientID", json!("x")),
        (
            "".into(),
            Code::ValueInvalid,
            "Unable to parse Measurement Protocol JSON payload. clientID: Cannot find field."
                .into()
        )
    );
}

#[test]
fn every_problem_is_reported_in_one_answer() {
    let found = messages(json!({
        "timestamp_micros": NOW_MICROS - 100 * HOUR_MICROS,
        "events": [
            {"name": "session_start"},
            {"name": "ok", "params": {"_private": 1}}
        ]
    }));
    let summary: Vec<(&str, Code)> = found.iter().map(|(p, c, _)| (p.as_str(), *c)).collect();
    assert_eq!(
        summary,
        [
            ("client_id", Code::ValueRequired),
            ("timestamp_micros", Code::ValueInvalid),
            ("events", Code::NameReserved),
            ("events[1].params._private", Code::NameInvalid),
        ]
    );
}

#[test]
fn validation_response_serializes_like_google() {
    let outcome = run(with_event(json!({"name": "first_visit"})));
    assert_eq!(
        serde_json::to_value(&outcome.validation).unwrap(),
        json!({"validationMessages": [{
            "fieldPath": "events",
            "description": "Event at index: [0] has invalid name [first_visit]. The name is reserved.",
            "validationCode": "NAME_RESERVED"
        }]})
    );
    let valid = run(with_event(json!({"name": "purchase"})));
    assert_eq!(
        serde_json::to_value(&valid.validation).unwrap(),
        json!({"validationMessages": []})
    );
}

/// Google's validation server's published answers (`shared/reference/ga4-and-sgtm.md`),
/// one row per body: Hermes' `/debug/mp/collect` gives the same field path, code and
/// description (our descriptions may add detail after Google's words).
#[test]
fn debug_answers_match_googles_published_answers() {
    let old = NOW_MICROS - 73 * HOUR_MICROS;
    let app = MpQuery {
        measurement_id: None,
        firebase_app_id: Some("1:123:android:abc"),
        api_secret: None,
    };
    let digits33 = "1".repeat(33);
    let with_g = format!("{}g", "a".repeat(31));
    let cases: Vec<(&str, Value, MpQuery<'_>, &str, Code, String)> = vec![
        (
            "event name starting with an underscore",
            with_event(json!({"name": "_badEventName"})),
            WEB,
            "events",
            Code::NameInvalid,
            "Event at index: [0] has invalid name [_badEventName]. Names must start with an \
             alphabetic character."
                .into(),
        ),
        (
            "event name with a space",
            with_event(json!({"name": "Demo Request"})),
            WEB,
            "events",
            Code::NameInvalid,
            "Event at index: [0] has invalid name [Demo Request]. Only alphanumeric characters \
             and underscores are allowed."
                .into(),
        ),
        (
            "timestamp more than 72 hours old",
            json!({"client_id": "1.2", "timestamp_micros": old, "events": [{"name": "x"}]}),
            WEB,
            "timestamp_micros",
            Code::ValueInvalid,
            "Measurement timestamp_micros has timestamp too far in the past. Measurement \
             protocol only supports timestamps [72h] into the past"
                .into(),
        ),
        (
            "unknown event field",
            with_event(json!({"name": "x", "names": "x"})),
            WEB,
            "",
            Code::ValueInvalid,
            "Unable to parse Measurement Protocol JSON payload. (events[0]) names: Cannot find \
             field."
                .into(),
        ),
        (
            "no client_id",
            json!({"events": [{"name": "x"}]}),
            WEB,
            "client_id",
            Code::ValueRequired,
            "Measurement requires a client_id.".into(),
        ),
        (
            "client_id not <number>.<number> when recommendations are enforced",
            json!({"client_id": "18", "validation_behavior": "ENFORCE_RECOMMENDATIONS",
                   "events": [{"name": "x"}]}),
            WEB,
            "client_id",
            Code::ValueInvalid,
            "client_id [18] has invalid format. It should be in <number>.<number> format.".into(),
        ),
        (
            "app_instance_id of 33 digits",
            json!({"app_instance_id": digits33, "events": [{"name": "x"}]}),
            app,
            "app_instance_id",
            Code::ValueInvalid,
            "Measurement app_instance_id is expected to be a 32 digit hexadecimal number but \
             was [33] digits."
                .into(),
        ),
        (
            "app_instance_id with a non-hexadecimal character",
            json!({"app_instance_id": with_g, "events": [{"name": "x"}]}),
            app,
            "app_instance_id",
            Code::ValueInvalid,
            "Measurement app_instance_id contains non hexadecimal character [g].".into(),
        ),
    ];
    for (case, body, query, path, code, description) in cases {
        let outcome = run_bytes(body.to_string().as_bytes(), &query);
        let messages = &outcome.validation.validation_messages;
        assert_eq!(messages.len(), 1, "{case}: {messages:#?}");
        assert_eq!(messages[0].field_path, path, "{case}");
        assert_eq!(messages[0].validation_code, code, "{case}");
        assert!(
            messages[0].description.starts_with(&description),
            "{case}: {:?} does not start with {description:?}",
            messages[0].description
        );
    }
    // In the default RELAXED mode the same short client_id validates, as at Google.
    assert!(run(json!({"client_id": "18", "events": [{"name": "x"}]})).is_valid());
}

/// What `/mp/collect` fires when a request breaks rules: Google's endpoint keeps the
/// valid remainder, so Hermes fires the valid events, without bad parameters, items and
/// user properties, and says what it left out.
#[test]
fn invalid_parts_are_left_out_and_the_rest_kept() {
    let outcome = run(json!({
        "client_id": "1.2",
        "user_properties": {"tier": {"value": "gold"}, "_secret": {"value": 1}},
        "events": [
            {"name": "purchase", "params": {
                "transaction_id": "T-1",
                "coupon": "C".repeat(101),
                "items": [{"item_id": "A"}, {"price": 3}, {"item_id": "B"}]
            }},
            {"name": "session_start"},
            {"name": "add_to_cart", "params": {"value": 3}}
        ]
    }));
    assert!(!outcome.is_valid());
    let names: Vec<&str> = outcome
        .events
        .iter()
        .map(|e| e.data["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["purchase", "add_to_cart"]);
    let purchase = &outcome.events[0].data;
    assert_eq!(purchase["transaction_id"], "T-1");
    assert!(
        !purchase.contains_key("coupon"),
        "the over-long value is left out"
    );
    assert_eq!(
        purchase["items"],
        json!([{"item_id": "A"}, {"item_id": "B"}]),
        "the item without id or name is left out"
    );
    assert_eq!(
        purchase["x-ga-mp2-user_properties"],
        json!({"tier": "gold"})
    );
    let dropped: Vec<(&str, Code)> = outcome
        .dropped
        .iter()
        .map(|d| (d.part.kind(), d.code))
        .collect();
    assert_eq!(
        dropped,
        [
            ("user_property", Code::NameInvalid),
            ("parameter", Code::ValueOutOfBounds),
            ("item", Code::ValueRequired),
            ("event", Code::NameReserved),
        ]
    );
}

#[test]
fn a_request_google_cannot_read_fires_nothing() {
    for body in [
        json!({"events": [{"name": "purchase"}]}),
        json!({"client_id": "1.2", "clientID": "x", "events": [{"name": "purchase"}]}),
        with_event(json!({"name": "purchase", "names": "x"})),
        json!({"client_id": "1.2", "timestamp_micros": 1, "events": [{"name": "purchase"}]}),
    ] {
        let outcome = run(body.clone());
        assert!(outcome.events.is_empty(), "{body}");
        assert!(
            outcome
                .dropped
                .iter()
                .any(|d| d.part == super::Part::Request),
            "{body}"
        );
    }
    let not_json = run_bytes(b"{", &WEB);
    assert!(not_json.events.is_empty());
    assert_eq!(not_json.dropped[0].part, super::Part::Request);
}
