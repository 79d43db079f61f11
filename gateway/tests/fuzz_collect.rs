//! Property tests of the two client parsers (a stable-toolchain fuzzer: `cargo-fuzz`
//! needs nightly). Structure-aware generators write gtag hits from GA4's parameter
//! vocabulary and Measurement Protocol bodies from arbitrary JSON around a valid shape;
//! each property states the parser's contract, and what parses is evaluated against the
//! examples' config. `PROPTEST_CASES` bounds a run (default 256 cases per property).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use hermes_gateway::collect::{Limits, MpQuery, Part, parse_ga4, parse_mp};
use hermes_gateway::config_source::manifests::compile_manifests;
use hermes_gateway::event::RequestInfo;
use hermes_gateway::fire::{PreparedConfig, evaluate};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use serde_json::{Value, json};

fn examples() -> &'static PreparedConfig {
    static CONFIG: OnceLock<PreparedConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let (config, problems) = compile_manifests(&[dir], "fuzz").unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        PreparedConfig::prepare(config).unwrap()
    })
}

/// GA4 parameter names, known and unknown, items and custom parameters included.
fn ga4_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "v",
            "tid",
            "en",
            "cid",
            "sid",
            "sct",
            "_et",
            "dl",
            "dr",
            "dt",
            "cu",
            "uid",
            "gcs",
            "gcd",
            "_p",
            "_s",
            "seg",
            "richsstsse",
            "uaa",
            "uafvl",
            "npa",
            "dma",
            "_ss",
        ])
        .prop_map(str::to_string),
        "(ep|epn|up|upn)\\.[a-z_]{0,8}",
        "pr[0-9]{1,4}",
        ".{0,6}",
    ]
}

/// Values: plain text, numbers (huge, negative, NaN), item token lists, any Unicode.
fn ga4_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "2",
            "G-0000",
            "purchase",
            "LowStock",
            "1e999",
            "-0",
            "NaN",
            "18446744073709551616",
            "G1--",
            "13r3v3l3l5l1",
            "idBOWL-10~nmBowl~pr12.5~qt2",
            "~~~",
            "k0a~v0b~k1~v1",
        ])
        .prop_map(str::to_string),
        any::<String>(),
        "(id|nm|pr|qt|k[0-9]|v[0-9])[a-zA-Z0-9.~]{0,10}",
    ]
}

/// A query string from pairs, percent-encoded or raw (broken escapes included).
fn ga4_query() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((ga4_key(), ga4_value(), any::<bool>()), 0..40),
        any::<bool>(),
    )
        .prop_map(|(pairs, with_event_name)| {
            let mut parts: Vec<String> = pairs
                .into_iter()
                .map(|(key, value, encode)| {
                    if encode {
                        let key = utf8_percent_encode(&key, NON_ALPHANUMERIC);
                        format!("{key}={}", utf8_percent_encode(&value, NON_ALPHANUMERIC))
                    } else {
                        format!("{key}={value}")
                    }
                })
                .collect();
            if with_event_name {
                parts.insert(0, "v=2&tid=G-0000&en=purchase".into());
            }
            parts.join("&")
        })
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::from)),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["purchase", "session_start", "_x", "1.2", "GRANTED"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec![
                        "name",
                        "params",
                        "items",
                        "item_id",
                        "value",
                        "client_id",
                        "events",
                        "session_id",
                        "timestamp_micros",
                        "user_properties",
                        "consent",
                    ])
                    .prop_map(str::to_string),
                    "[a-z_]{0,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// MP bodies: a valid purchase with parts replaced by arbitrary JSON, or anything at all.
fn mp_body() -> impl Strategy<Value = Value> {
    let valid = json!({
        "client_id": "1.2",
        "events": [{"name": "purchase", "params": {
            "transaction_id": "T-1", "value": 9.5,
            "items": [{"item_id": "BOWL-10", "price": 1, "quantity": 2}]
        }}]
    });
    prop_oneof![
        (
            prop::sample::select(vec![
                "/client_id",
                "/events",
                "/events/0",
                "/events/0/name",
                "/events/0/params",
                "/events/0/params/items",
                "/events/0/params/items/0",
                "/events/0/params/value",
                "/user_properties",
                "/consent",
                "/timestamp_micros",
            ]),
            json_value(),
        )
            .prop_map(move |(pointer, replacement)| {
                let mut body = valid.clone();
                if let Some(slot) = body.pointer_mut(pointer) {
                    *slot = replacement;
                }
                body
            }),
        json_value(),
    ]
}

fn web() -> MpQuery<'static> {
    MpQuery {
        measurement_id: Some("G-1"),
        ..Default::default()
    }
}

proptest! {
    /// A hit parses into events that carry its event name, or is refused with a reason;
    /// parsed events evaluate without panicking.
    #[test]
    fn gtag_hits_parse_or_are_refused_with_a_reason(
        query in ga4_query(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let request = RequestInfo::default();
        match parse_ga4(&query, &body, &request, &Limits::default()) {
            Ok(events) => {
                prop_assert!(!events.is_empty());
                for (index, event) in events.iter().enumerate() {
                    prop_assert!(!event.name().is_empty(), "{query}");
                    let _ = evaluate(examples(), event, &request, index, index == 0);
                }
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    /// A parameter sent percent-encoded arrives in event data exactly as written.
    #[test]
    fn event_parameters_arrive_as_written(
        name in "[a-z][a-z_]{0,10}",
        value in any::<String>(),
    ) {
        prop_assume!(!matches!(name.as_str(), "items"));
        let query = format!(
            "v=2&tid=G-0000&en=probe&ep.{name}={}",
            utf8_percent_encode(&value, NON_ALPHANUMERIC)
        );
        let events = parse_ga4(&query, b"", &RequestInfo::default(), &Limits::default());
        let events = events.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(events.len(), 1);
        prop_assert_eq!(events[0].data.get(name.as_str()), Some(&Value::String(value)));
    }

    /// Every Measurement Protocol body gets an answer: each message names what it spoils,
    /// a request Google cannot read fires nothing, a valid one fires all its events, and
    /// every fired event has a valid name and evaluates.
    #[test]
    fn measurement_protocol_bodies_are_answered_and_valid_parts_fired(body in mp_body()) {
        let request = RequestInfo::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_micros(1_732_883_600_000_000);
        let bytes = body.to_string();
        let outcome = parse_mp(bytes.as_bytes(), &web(), &request, now);
        let messages = &outcome.validation.validation_messages;
        prop_assert_eq!(outcome.dropped.len(), messages.len());
        prop_assert!(messages.iter().all(|m| !m.description.is_empty()));
        if outcome.dropped.iter().any(|d| d.part == Part::Request) {
            prop_assert!(outcome.events.is_empty());
        }
        if outcome.is_valid() {
            let sent = body["events"].as_array().map_or(0, Vec::len);
            prop_assert_eq!(outcome.events.len(), sent);
        }
        for (index, event) in outcome.events.iter().enumerate() {
            let name = event.name();
            prop_assert!(
                name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "fired an event named {name:?}"
            );
            let _ = evaluate(examples(), event, &request, index, false);
        }
    }

    /// Bytes that are not JSON get one clear message and fire nothing.
    #[test]
    fn bytes_that_are_not_json_fire_nothing(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        prop_assume!(serde_json::from_slice::<Value>(&bytes).is_err());
        let outcome = parse_mp(&bytes, &web(), &RequestInfo::default(), SystemTime::now());
        prop_assert!(outcome.events.is_empty());
        prop_assert_eq!(outcome.validation.validation_messages.len(), 1);
    }
}
