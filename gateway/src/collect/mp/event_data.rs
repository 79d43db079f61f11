//! A valid Measurement Protocol body → sGTM events, as sGTM's GA4 client makes them:
//!
//! | body | event data |
//! |---|---|
//! | `events[].name` | `event_name` |
//! | `client_id` (or `app_instance_id`) | `client_id`; app streams also `x-ga-app_instance_id` |
//! | `user_id` | `user_id` |
//! | `params.session_id` | `ga_session_id` (string) |
//! | `params.engagement_time_msec` | `engagement_time_msec` (number) |
//! | other params (`items` included) | same name, same JSON type |
//! | `timestamp_micros` (event's, else the body's) | `timestamp_micros` (number) |
//! | `user_properties.x.value` | `x-ga-mp2-user_properties.x` |
//! | `user_data`, `device`, `user_location` | `user_data`, `x-ga-device`, `x-ga-user_location` |
//! | `consent.ad_user_data` / `.ad_personalization` | `event::CONSENT_KEY` (`"granted"`/`"denied"`) |
//! | `non_personalized_ads: true` | `x-ga-npa: "1"`, and `ad_personalization` denied unless consent says otherwise |
//! | query `measurement_id` / `firebase_app_id` | `x-ga-measurement_id` / `x-ga-firebase_app_id`; `x-ga-protocol_version: "2"` |
//! | `ip_override`, else the request's client IP | `ip_override` |
//! | the request's User-Agent | `user_agent` |
//!
//! Body-level keys win over a parameter of the same name.

use std::borrow::Cow;

use hermes_crds::api::ClientKind;
use serde_json::{Map, Value};

use super::MpQuery;
use super::body::Body;
use super::dropped::Omissions;
use super::validate::{consent_signal, consent_state, timestamp_micros};
use crate::collect::parse_number;
use crate::event::{CONSENT_KEY, Event, EventData, RequestInfo};

/// The events of a body, less the parts `omit` names (the validator's verdict); anything
/// else malformed is skipped, never a panic.
pub(crate) fn build_events(
    body: &Body<'_>,
    query: &MpQuery<'_>,
    request: &RequestInfo,
    omit: &Omissions,
) -> Vec<Event> {
    let head = head(body);
    let tail = tail(body, query, request, omit);
    let body_timestamp = body
        .timestamp_micros
        .and_then(|t| timestamp_micros(t.value));
    let events = body.events.and_then(|e| e.value.as_array());
    events
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(index, _)| !omit.event(*index))
        .filter_map(|(index, event)| Some((index, event.as_object()?)))
        .map(|(index, event)| {
            let mut data = EventData::default();
            let name = event.get("name").and_then(Value::as_str).unwrap_or("");
            data.insert("event_name".into(), Value::String(name.to_string()));
            data.extend(head.iter().map(|(k, v)| (k.clone(), v.clone())));
            if let Some(params) = event.get("params").and_then(Value::as_object) {
                add_params(&mut data, params, index, omit);
            }
            let timestamp = event
                .get("timestamp_micros")
                .or_else(|| event.get("timestampMicros"))
                .and_then(timestamp_micros)
                .or(body_timestamp);
            if let Some(timestamp) = timestamp {
                data.insert("timestamp_micros".into(), Value::Number(timestamp.into()));
            }
            data.extend(tail.iter().map(|(k, v)| (k.clone(), v.clone())));
            Event {
                client: ClientKind::MeasurementProtocol,
                data,
            }
        })
        .collect()
}

/// Identity keys that lead every event, after `event_name`.
fn head(body: &Body<'_>) -> EventData {
    let mut head = EventData::default();
    let text = |entry: Option<super::body::Entry<'_>>| {
        entry.and_then(|e| e.value.as_str()).map(str::to_string)
    };
    let app_instance_id = text(body.app_instance_id);
    if let Some(client_id) = text(body.client_id).or_else(|| app_instance_id.clone()) {
        head.insert("client_id".into(), Value::String(client_id));
    }
    if let Some(user_id) = text(body.user_id) {
        head.insert("user_id".into(), Value::String(user_id));
    }
    if let Some(id) = app_instance_id {
        head.insert("x-ga-app_instance_id".into(), Value::String(id));
    }
    head
}

/// Request-wide keys that close every event.
fn tail(
    body: &Body<'_>,
    query: &MpQuery<'_>,
    request: &RequestInfo,
    omit: &Omissions,
) -> EventData {
    let mut tail = EventData::default();
    if let Some(properties) = body.user_properties.and_then(|p| p.value.as_object()) {
        let values: Map<String, Value> = properties
            .iter()
            .filter(|(name, _)| !omit.user_property(name))
            .filter_map(|(name, property)| Some((name.clone(), property.get("value")?.clone())))
            .collect();
        if !values.is_empty() {
            tail.insert("x-ga-mp2-user_properties".into(), Value::Object(values));
        }
    }
    for (entry, key) in [
        (body.user_data, "user_data"),
        (body.device, "x-ga-device"),
        (body.user_location, "x-ga-user_location"),
    ] {
        if let Some(entry) = entry {
            tail.insert(key.into(), entry.value.clone());
        }
    }
    let mut consent = Map::new();
    if let Some(signals) = body.consent.and_then(|c| c.value.as_object()) {
        for (key, value) in signals {
            if let (Some(signal), Some(state)) = (consent_signal(key), consent_state(value)) {
                consent.insert(signal.into(), Value::String(state.into()));
            }
        }
    }
    let npa = body
        .non_personalized_ads
        .and_then(|n| n.value.as_bool())
        .unwrap_or(false);
    if npa {
        tail.insert("x-ga-npa".into(), Value::String("1".into()));
        consent
            .entry("ad_personalization")
            .or_insert_with(|| Value::String("denied".into()));
    }
    if !consent.is_empty() {
        tail.insert(CONSENT_KEY.into(), Value::Object(consent));
    }
    if let Some(id) = query.measurement_id {
        tail.insert("x-ga-measurement_id".into(), Value::String(id.into()));
    }
    if let Some(id) = query.firebase_app_id {
        tail.insert("x-ga-firebase_app_id".into(), Value::String(id.into()));
    }
    tail.insert("x-ga-protocol_version".into(), Value::String("2".into()));
    let ip = body
        .ip_override
        .and_then(|ip| ip.value.as_str())
        .map(str::to_string)
        .or_else(|| request.client_ip.map(crate::collect::client_ip::ip_text));
    if let Some(ip) = ip {
        tail.insert("ip_override".into(), Value::String(ip));
    }
    if let Some(agent) = request.user_agent() {
        tail.insert("user_agent".into(), Value::String(agent.to_string()));
    }
    tail
}

/// Event parameters, renamed and typed where sGTM does, less the omitted parameters and
/// items; a name already present is kept.
fn add_params(data: &mut EventData, params: &Map<String, Value>, event: usize, omit: &Omissions) {
    for (name, value) in params {
        if omit.parameter(event, name) {
            continue;
        }
        let (key, value): (Cow<'static, str>, Value) = match name.as_str() {
            "session_id" => ("ga_session_id".into(), session_id(value)),
            "engagement_time_msec" => ("engagement_time_msec".into(), number(value)),
            "items" if !omit.is_empty() => ("items".into(), kept_items(value, event, omit)),
            other if data.contains_key(other) => continue,
            other => (other.to_owned().into(), value.clone()),
        };
        data.entry(key).or_insert(value);
    }
}

/// The items not omitted, in order.
fn kept_items(items: &Value, event: usize, omit: &Omissions) -> Value {
    match items {
        Value::Array(list) => Value::Array(
            list.iter()
                .enumerate()
                .filter(|(index, _)| !omit.item(event, *index))
                .map(|(_, item)| item.clone())
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `ga_session_id` is a string in sGTM, whatever JSON type the body used.
fn session_id(value: &Value) -> Value {
    match value {
        Value::Number(number) => Value::String(number.to_string()),
        other => other.clone(),
    }
}

/// A number, parsed from a numeric string when the body quoted it.
fn number(value: &Value) -> Value {
    match value {
        Value::String(text) => parse_number(text).unwrap_or_else(|| value.clone()),
        other => other.clone(),
    }
}
