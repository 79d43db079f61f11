//! Evaluation semantics, on configs built directly (the compiler's own tests cover how
//! resources become these).

use std::collections::BTreeMap;

use hermes_compiler::config::*;
use hermes_crds::api::{ClientKind, FieldType, MatchType, Operator, RequestProperty};
use serde_json::{Value, json};

use super::*;
use crate::event::{CONSENT_KEY, Event, RequestInfo};

fn item_key(key: &str) -> CompiledVariable {
    CompiledVariable::Item { key: key.into() }
}

fn constant(value: &str) -> CompiledVariable {
    CompiledVariable::Constant {
        value: value.into(),
    }
}

fn event_data(path: &str) -> CompiledVariable {
    let path = path
        .split('.')
        .map(|s| match s {
            "[*]" => PathSegment::Each,
            s => PathSegment::Key(s.to_string()),
        })
        .collect();
    CompiledVariable::EventData { path }
}

fn cond(variable: CompiledVariable, operator: Operator, value: &str) -> CompiledCondition {
    CompiledCondition {
        variable,
        operator,
        value: Some(value.to_string()),
        values: Vec::new(),
        negate: false,
        ignore_case: false,
    }
}

fn trigger(names: &[&str], conditions: Vec<CompiledCondition>) -> CompiledTrigger {
    CompiledTrigger {
        generation: Some(1),
        event: if names.is_empty() {
            CompiledEventMatch::Any
        } else {
            CompiledEventMatch::Names {
                names: names.iter().map(|s| s.to_string()).collect(),
            }
        },
        conditions,
        client: None,
    }
}

fn field(key: &str, value: CompiledVariable, type_: FieldType) -> CompiledField {
    CompiledField {
        key: key.to_string(),
        value,
        type_,
    }
}

fn tag(firing: &[&str], fields: Vec<CompiledField>) -> CompiledTag {
    CompiledTag {
        generation: Some(1),
        firing_triggers: firing.iter().map(|s| s.to_string()).collect(),
        blocking_triggers: Vec::new(),
        topic: "projects/hermes-local/topics/test".to_string(),
        attributes: Vec::new(),
        ordering_key: None,
        payload: CompiledPayload::Fields { fields },
        per_item: None,
        require_analytics_storage: false,
        require_ad_storage: false,
        paused: false,
    }
}

/// A config with index built the way the compiler builds it.
fn config(
    triggers: Vec<(&str, CompiledTrigger)>,
    tags: Vec<(&str, CompiledTag)>,
    tables: Vec<(&str, CompiledLookupTable)>,
) -> PreparedConfig {
    let triggers: BTreeMap<String, CompiledTrigger> = triggers
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    let mut tags_by_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut tags_for_any_event = Vec::new();
    for (name, tag) in &tags {
        for t in &tag.firing_triggers {
            match &triggers[t].event {
                CompiledEventMatch::Names { names } => {
                    for n in names {
                        tags_by_event
                            .entry(n.clone())
                            .or_default()
                            .push(name.to_string());
                    }
                }
                _ => tags_for_any_event.push(name.to_string()),
            }
        }
    }
    let mut config = GatewayConfig {
        version: CONFIG_VERSION,
        hash: String::new(),
        scope: "test".into(),
        triggers,
        tags: tags.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
        lookup_tables: tables
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect(),
        tags_by_event,
        tags_for_any_event,
    };
    config.hash = config.content_hash();
    PreparedConfig::prepare(config).unwrap()
}

fn event(data: Value) -> Event {
    let Value::Object(data) = data else { panic!() };
    Event {
        client: ClientKind::Ga4,
        data: data.into_iter().map(|(k, v)| (k.into(), v)).collect(),
    }
}

/// `tag`, fired by a trigger on `purchase`, on [`purchase`].
fn fire_on_purchase(tag: CompiledTag) -> EventOutcome {
    let cfg = config(
        vec![("t", trigger(&["purchase"], vec![]))],
        vec![("tag", tag)],
        vec![],
    );
    run(&cfg, purchase())
}

fn run(config: &PreparedConfig, data: Value) -> EventOutcome {
    evaluate(config, &event(data), &RequestInfo::default(), 0, false)
}

fn purchase() -> Value {
    json!({
        "event_name": "purchase",
        "transaction_id": "T-1",
        "value": 30.5,
        "currency": "EUR",
        "items": [
            {"item_id": "BOWL-10", "price": 10, "quantity": 2},
            {"item_id": "MUG-22", "price": 10.5, "quantity": 1, "promotion_id": "SUMMER"}
        ]
    })
}

#[test]
fn each_operator_compares_as_gtm_does() {
    let cases: Vec<(Operator, &str, Value, bool)> = vec![
        (Operator::Equals, "EUR", json!("EUR"), true),
        (Operator::Equals, "EUR", json!("USD"), false),
        (Operator::Contains, "UR", json!("EUR"), true),
        (Operator::StartsWith, "EU", json!("EUR"), true),
        (Operator::StartsWith, "UR", json!("EUR"), false),
        (Operator::EndsWith, "UR", json!("EUR"), true),
        (Operator::MatchesRegex, "^E.R$", json!("EUR"), true),
        (Operator::MatchesRegex, "^X", json!("EUR"), false),
        (Operator::LessThan, "31", json!(30.5), true),
        (Operator::LessThan, "30.5", json!(30.5), false),
        (Operator::LessThanOrEqual, "30.5", json!(30.5), true),
        (Operator::GreaterThan, "30", json!("30.5"), true),
        (Operator::GreaterThanOrEqual, "31", json!(30.5), false),
        (Operator::GreaterThan, "1", json!("not a number"), false),
        (Operator::Exists, "", json!(""), true),
        (Operator::NotEmpty, "", json!(""), false),
        (Operator::NotEmpty, "", json!([1]), true),
        (Operator::Equals, "5", json!(5), true),
        (Operator::Equals, "true", json!(true), true),
    ];
    for (operator, operand, value, expected) in cases {
        let c = cond(event_data("x"), operator, operand);
        let cfg = config(
            vec![("t", trigger(&["e"], vec![c]))],
            vec![("tag", tag(&["t"], vec![]))],
            vec![],
        );
        let fired = !run(&cfg, json!({"event_name": "e", "x": value}))
            .tags_fired
            .is_empty();
        assert_eq!(fired, expected, "{operator:?} {operand:?} on {value}");
    }
}

#[test]
fn in_negate_and_ignore_case_combine() {
    let mut c = cond(event_data("currency"), Operator::In, "");
    c.values = vec!["eur".into(), "usd".into()];
    c.ignore_case = true;
    let cfg = config(
        vec![("t", trigger(&["purchase"], vec![c.clone()]))],
        vec![("tag", tag(&["t"], vec![]))],
        vec![],
    );
    assert_eq!(run(&cfg, purchase()).tags_fired, vec!["tag"]);
    c.negate = true;
    let cfg = config(
        vec![("t", trigger(&["purchase"], vec![c]))],
        vec![("tag", tag(&["t"], vec![]))],
        vec![],
    );
    assert!(run(&cfg, purchase()).tags_fired.is_empty());
}

#[test]
fn missing_variables_never_match_and_negation_of_missing_holds() {
    let mut c = cond(event_data("coupon"), Operator::Equals, "X");
    let cfg = config(
        vec![("t", trigger(&["purchase"], vec![c.clone()]))],
        vec![("tag", tag(&["t"], vec![]))],
        vec![],
    );
    assert!(run(&cfg, purchase()).tags_fired.is_empty());
    c.negate = true;
    let cfg = config(
        vec![("t", trigger(&["purchase"], vec![c]))],
        vec![("tag", tag(&["t"], vec![]))],
        vec![],
    );
    assert_eq!(run(&cfg, purchase()).tags_fired, vec!["tag"]);
}

#[test]
fn any_item_predicates_hold_when_one_item_matches() {
    for variable in [
        event_data("items.[*].promotion_id"),
        item_key("promotion_id"),
    ] {
        let c = cond(variable, Operator::NotEmpty, "");
        let cfg = config(
            vec![("t", trigger(&["purchase"], vec![c]))],
            vec![("tag", tag(&["t"], vec![]))],
            vec![],
        );
        assert_eq!(run(&cfg, purchase()).tags_fired, vec!["tag"]);
        let mut no_promo = purchase();
        no_promo["items"][1]
            .as_object_mut()
            .unwrap()
            .remove("promotion_id");
        assert!(run(&cfg, no_promo).tags_fired.is_empty());
    }
}

#[test]
fn per_item_fan_out_sends_one_message_per_matching_item() {
    let mut t = tag(
        &["t"],
        vec![
            field(
                "transaction_id",
                event_data("transaction_id"),
                FieldType::String,
            ),
            field("sku", item_key("item_id"), FieldType::String),
            field("qty", item_key("quantity"), FieldType::Integer),
        ],
    );
    t.per_item = Some(vec![cond(
        item_key("price"),
        Operator::GreaterThanOrEqual,
        "10",
    )]);
    let out = fire_on_purchase(t);
    assert_eq!(out.messages.len(), 2);
    assert_eq!(
        out.messages[0].data.value(),
        json!({"transaction_id": "T-1", "sku": "BOWL-10", "qty": 2})
    );
    assert_eq!(out.messages[1].attributes[ITEM_INDEX_ATTRIBUTE], "1");
    assert_eq!(out.messages[1].data.value()["sku"], "MUG-22");
}

#[test]
fn blocking_triggers_veto_and_paused_tags_never_fire() {
    let internal = cond(event_data("currency"), Operator::Equals, "EUR");
    let mut t = tag(&["all"], vec![]);
    t.blocking_triggers = vec!["internal".into()];
    let cfg = config(
        vec![
            ("all", trigger(&[], vec![])),
            ("internal", trigger(&[], vec![internal])),
        ],
        vec![("tag", t.clone())],
        vec![],
    );
    assert!(run(&cfg, purchase()).tags_fired.is_empty());
    let mut usd = purchase();
    usd["currency"] = json!("USD");
    assert_eq!(run(&cfg, usd.clone()).tags_fired, vec!["tag"]);
    t.paused = true;
    let cfg = config(
        vec![
            ("all", trigger(&[], vec![])),
            ("internal", trigger(&[], vec![])),
        ],
        vec![("tag", t)],
        vec![],
    );
    assert!(run(&cfg, usd).tags_fired.is_empty());
}

#[test]
fn consent_requirement_blocks_only_explicit_denial() {
    let mut t = tag(&["t"], vec![]);
    t.require_analytics_storage = true;
    let cfg = config(vec![("t", trigger(&[], vec![]))], vec![("tag", t)], vec![]);
    let mut hit = purchase();
    assert_eq!(
        run(&cfg, hit.clone()).tags_fired,
        vec!["tag"],
        "no signal: granted"
    );
    hit[CONSENT_KEY] = json!({"analytics_storage": "granted", "ad_storage": "denied"});
    assert_eq!(run(&cfg, hit.clone()).tags_fired, vec!["tag"]);
    hit[CONSENT_KEY] = json!({"analytics_storage": "denied"});
    assert!(run(&cfg, hit).tags_fired.is_empty());
}

#[test]
fn lookup_tables_match_exact_case_insensitive_and_regex_with_defaults() {
    let rows = |pairs: &[(&str, Value)]| {
        pairs
            .iter()
            .map(|(k, v)| CompiledRow {
                key: k.to_string(),
                value: v.clone(),
            })
            .collect()
    };
    let table = |match_type, rows, default| CompiledLookupTable {
        generation: Some(1),
        input: item_key("item_id"),
        match_type,
        rows,
        default,
    };
    let tables = vec![
        (
            "exact",
            table(MatchType::Exact, rows(&[("BOWL-10", json!("5"))]), None),
        ),
        (
            "ci",
            table(
                MatchType::CaseInsensitive,
                rows(&[("mug-22", json!({"t": 3}))]),
                None,
            ),
        ),
        (
            "re",
            table(
                MatchType::Regex,
                rows(&[("^([A-Z]+)-\\d+$", json!("family $1"))]),
                None,
            ),
        ),
        (
            "dflt",
            table(MatchType::Exact, rows(&[]), Some(json!("none"))),
        ),
    ];
    let lookup = |name: &str| CompiledVariable::LookupTable { name: name.into() };
    let mut t = tag(
        &["t"],
        vec![
            field("threshold", lookup("exact"), FieldType::Integer),
            field("ci", lookup("ci"), FieldType::Json),
            field("family", lookup("re"), FieldType::String),
            field("default", lookup("dflt"), FieldType::String),
        ],
    );
    t.per_item = Some(vec![]);
    let cfg = config(vec![("t", trigger(&[], vec![]))], vec![("tag", t)], tables);
    let out = run(&cfg, purchase());
    assert_eq!(
        out.messages[0].data.value(),
        json!({"threshold": 5, "family": "family BOWL", "default": "none"})
    );
    assert_eq!(
        out.messages[1].data.value(),
        json!({"ci": {"t": 3}, "family": "family MUG", "default": "none"})
    );
}

#[test]
fn lookup_exists_fires_when_any_item_is_in_the_table() {
    let table = CompiledLookupTable {
        generation: Some(1),
        input: item_key("item_id"),
        match_type: MatchType::Exact,
        rows: vec![CompiledRow {
            key: "MUG-22".into(),
            value: json!("3"),
        }],
        default: None,
    };
    let c = cond(
        CompiledVariable::LookupTable { name: "low".into() },
        Operator::Exists,
        "",
    );
    let cfg = config(
        vec![("t", trigger(&["purchase"], vec![c]))],
        vec![("tag", tag(&["t"], vec![]))],
        vec![("low", table)],
    );
    assert_eq!(run(&cfg, purchase()).tags_fired, vec!["tag"]);
    let mut other = purchase();
    other["items"] = json!([{"item_id": "PLATE-1"}]);
    assert!(run(&cfg, other).tags_fired.is_empty());
}

#[test]
fn payload_types_convert_and_unconvertible_fields_are_reported() {
    let constant = |v: &str| CompiledVariable::Constant { value: v.into() };
    let t = tag(
        &["t"],
        vec![
            field("s", event_data("value"), FieldType::String),
            field("i", event_data("value"), FieldType::Integer),
            field("n", constant("2.5"), FieldType::Number),
            field("b", constant("true"), FieldType::Boolean),
            field("j", constant("{\"a\":1}"), FieldType::Json),
            field("items", event_data("items.[*].item_id"), FieldType::String),
            field("bad", event_data("currency"), FieldType::Integer),
            field("absent", event_data("nope"), FieldType::String),
        ],
    );
    let cfg = config(vec![("t", trigger(&[], vec![]))], vec![("tag", t)], vec![]);
    let out = run(&cfg, purchase());
    assert_eq!(
        out.messages[0].data.value(),
        json!({"s": "30.5", "i": 30, "n": 2.5, "b": true, "j": {"a": 1},
               "items": ["BOWL-10", "MUG-22"]})
    );
    assert_eq!(out.messages[0].dropped_fields, vec!["bad"]);
}

#[test]
fn whole_event_payload_applies_allow_exclude_and_add() {
    let mut t = tag(&["t"], vec![]);
    t.payload = CompiledPayload::EventData {
        allow: vec!["event_name".into(), "value".into(), "currency".into()],
        exclude: vec!["currency".into()],
        add: vec![field("source", constant("shop"), FieldType::String)],
    };
    let cfg = config(vec![("t", trigger(&[], vec![]))], vec![("tag", t)], vec![]);
    let out = run(&cfg, purchase());
    assert_eq!(
        out.messages[0].data.value(),
        json!({"event_name": "purchase", "value": 30.5, "source": "shop"})
    );
}

/// The body is written straight to JSON, never built as an object: its keys, values and
/// order must still be what inserting each field into the event data gives. A field of
/// an existing key replaces its value in place, a field that cannot take its type
/// leaves the event's value, `item` and new keys follow the event data.
#[test]
fn whole_event_payload_is_the_json_of_the_event_data_with_its_fields_set() {
    let mut t = tag(&["t"], vec![]);
    t.payload = CompiledPayload::EventData {
        allow: Vec::new(),
        exclude: vec!["items".into()],
        add: vec![
            field("value", constant("99"), FieldType::Integer),
            field("currency", constant("not a number"), FieldType::Number),
            field("sku", item_key("item_id"), FieldType::String),
            field("event_name", constant("order"), FieldType::String),
        ],
    };
    t.per_item = Some(Vec::new());
    let out = fire_on_purchase(t);
    assert_eq!(out.messages.len(), 2);
    assert_eq!(
        out.messages[1].data.json(),
        r#"{"event_name":"order","transaction_id":"T-1","value":99,"currency":"EUR","item":{"item_id":"MUG-22","price":10.5,"quantity":1,"promotion_id":"SUMMER"},"sku":"MUG-22"}"#
    );
    assert_eq!(out.messages[1].dropped_fields, vec!["currency"]);
}

#[test]
fn attributes_ordering_key_and_hermes_attributes_are_set() {
    let mut t = tag(&["t"], vec![]);
    t.attributes = vec![
        CompiledAttribute {
            name: "currency".into(),
            value: event_data("currency"),
        },
        CompiledAttribute {
            name: "client".into(),
            value: CompiledVariable::Request {
                property: RequestProperty::Client,
            },
        },
        CompiledAttribute {
            name: "missing".into(),
            value: event_data("nope"),
        },
    ];
    t.ordering_key = Some(event_data("transaction_id"));
    let cfg = config(vec![("t", trigger(&[], vec![]))], vec![("tag", t)], vec![]);
    let message = &run(&cfg, purchase()).messages[0];
    assert_eq!(message.attributes["currency"], "EUR");
    assert_eq!(message.attributes["client"], "ga4");
    assert!(!message.attributes.contains_key("missing"));
    assert_eq!(
        message.attributes[EVENT_ID_ATTRIBUTE],
        event(purchase()).stable_id(0)
    );
    assert_eq!(message.attributes[TAG_ATTRIBUTE], "tag");
    assert_eq!(message.attributes[EVENT_NAME_ATTRIBUTE], "purchase");
    assert_eq!(message.ordering_key.as_deref(), Some("T-1"));
}

#[test]
fn request_variables_read_headers_query_cookies_and_client_filter_applies() {
    let request = RequestInfo {
        method: "POST".into(),
        path: "/mp/collect".into(),
        headers: [
            ("x-shop", "eu"),
            ("cookie", "_ga=GA1.1.1.2"),
            ("user-agent", "shop/1"),
        ]
        .into_iter()
        .collect(),
        query: [("measurement_id", "G-1")].into_iter().collect(),
        client_ip: Some("203.0.113.5".parse().unwrap()),
    };
    let mut mp_only = trigger(
        &[],
        vec![
            cond(
                CompiledVariable::RequestHeader {
                    name: "x-shop".into(),
                },
                Operator::Equals,
                "eu",
            ),
            cond(
                CompiledVariable::QueryParameter {
                    name: "measurement_id".into(),
                },
                Operator::Equals,
                "G-1",
            ),
            cond(
                CompiledVariable::Cookie { name: "_ga".into() },
                Operator::StartsWith,
                "GA1",
            ),
            cond(
                CompiledVariable::Request {
                    property: RequestProperty::ClientIp,
                },
                Operator::Equals,
                "203.0.113.5",
            ),
            cond(
                CompiledVariable::Request {
                    property: RequestProperty::UserAgent,
                },
                Operator::Contains,
                "shop",
            ),
            cond(
                CompiledVariable::Request {
                    property: RequestProperty::Path,
                },
                Operator::Equals,
                "/mp/collect",
            ),
            cond(
                CompiledVariable::Request {
                    property: RequestProperty::Method,
                },
                Operator::Equals,
                "POST",
            ),
        ],
    );
    mp_only.client = Some(ClientKind::MeasurementProtocol);
    let cfg = config(
        vec![("t", mp_only)],
        vec![("tag", tag(&["t"], vec![]))],
        vec![],
    );
    let mut mp = event(purchase());
    mp.client = ClientKind::MeasurementProtocol;
    assert_eq!(
        evaluate(&cfg, &mp, &request, 0, false).tags_fired,
        vec!["tag"]
    );
    let web = event(purchase());
    assert!(
        evaluate(&cfg, &web, &request, 0, false)
            .tags_fired
            .is_empty()
    );
}

#[test]
fn debug_trace_explains_every_trigger_condition_and_tag() {
    let cfg = config(
        vec![
            (
                "is-purchase",
                trigger(
                    &["purchase"],
                    vec![cond(event_data("currency"), Operator::Equals, "USD")],
                ),
            ),
            ("page-view", trigger(&["page_view"], vec![])),
        ],
        vec![("tag", tag(&["is-purchase"], vec![]))],
        vec![],
    );
    let out = evaluate(&cfg, &event(purchase()), &RequestInfo::default(), 0, true);
    let trace = out.trace.unwrap();
    assert_eq!(trace.event_id, event(purchase()).stable_id(0));
    assert_eq!(trace.event_name, "purchase");
    assert_eq!(trace.triggers.len(), 2);
    let t = &trace.triggers[0];
    assert_eq!(t.name, "is-purchase");
    assert!(t.event_matched && !t.fired);
    assert_eq!(t.conditions[0].values, vec![json!("EUR")]);
    assert!(!t.conditions[0].result);
    assert!(!trace.triggers[1].event_matched);
    assert_eq!(trace.tags[0].reason, "no firing trigger fired");
}

#[test]
fn only_tags_indexed_for_the_event_name_are_evaluated() {
    let cfg = config(
        vec![
            ("p", trigger(&["purchase"], vec![])),
            ("any", trigger(&[], vec![])),
        ],
        vec![
            ("a-purchase", tag(&["p"], vec![])),
            ("b-any", tag(&["any"], vec![])),
        ],
        vec![],
    );
    assert_eq!(cfg.candidate_tags("page_view"), vec![1]);
    assert_eq!(cfg.candidate_tags("purchase"), vec![0, 1]);
    assert_eq!(
        run(&cfg, purchase()).tags_fired,
        vec!["a-purchase".to_string(), "b-any".to_string()]
    );
}

#[test]
fn prepare_refuses_references_the_config_does_not_hold() {
    let mut cfg = GatewayConfig::empty("x");
    cfg.tags.insert("tag".into(), tag(&["ghost"], vec![]));
    assert!(matches!(
        PreparedConfig::prepare(cfg),
        Err(PrepareError::Missing { .. })
    ));
}
