//! The sGTM event model: what a client (GA4, Measurement Protocol) makes of a request, and
//! what triggers, variables and payloads read.
//!
//! Event data is a JSON object with sGTM's common event data keys (`event_name`,
//! `client_id`, `items`, `x-ga-*`, …), so payloads can send it as it is.

use std::net::IpAddr;

use hermes_crds::api::ClientKind;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// sGTM event data: one JSON object per event.
pub type EventData = Map<String, Value>;

/// The key of the parsed consent state in event data: an object with `ad_storage`,
/// `analytics_storage`, `ad_user_data` and `ad_personalization`, each `"granted"` or
/// `"denied"` when the hit says so (keys absent when it does not).
pub const CONSENT_KEY: &str = "x-hermes-consent";

/// One event of a hit, ready for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The client that claimed the request.
    pub client: ClientKind,
    /// The event data.
    pub data: EventData,
}

impl Event {
    /// The event name (`event_name`), or "" when absent.
    pub fn name(&self) -> &str {
        self.data
            .get("event_name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// A stable id for this event: the same hit sent twice (a browser or back-end retry)
    /// gives the same id, so consumers can de-duplicate. Derived from the event data and
    /// the event's position in its request.
    pub fn stable_id(&self, index_in_request: usize) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.client.as_str().as_bytes());
        hasher.update(index_in_request.to_le_bytes());
        // Event data is built in a fixed key order by the parsers, so equal hits
        // serialize equally.
        if let Ok(bytes) = serde_json::to_vec(&self.data) {
            hasher.update(&bytes);
        }
        let digest = hasher.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(id).into_uuid().to_string()
    }

    /// Whether the hit's consent state allows a storage type (`analytics_storage` or
    /// `ad_storage`). As in GA4, a hit without a consent signal is treated as granted;
    /// only an explicit "denied" denies.
    pub fn consent_granted(&self, storage: &str) -> bool {
        self.data
            .get(CONSENT_KEY)
            .and_then(|c| c.get(storage))
            .and_then(Value::as_str)
            != Some("denied")
    }
}

/// What the request itself carried, for request variables (headers, query parameters,
/// cookies, client IP, user agent, path).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Request path, e.g. `/g/collect`.
    pub path: String,
    /// Headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Query parameters, decoded, in arrival order.
    pub query: Vec<(String, String)>,
    /// Cookies, decoded, in arrival order.
    pub cookies: Vec<(String, String)>,
    /// The client's IP (after trusted-proxy handling).
    pub client_ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

impl RequestInfo {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, name, true)
    }

    /// The first query parameter of this name.
    pub fn query_parameter(&self, name: &str) -> Option<&str> {
        first(&self.query, name, false)
    }

    /// The first cookie of this name.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        first(&self.cookies, name, false)
    }
}

fn first<'a>(pairs: &'a [(String, String)], name: &str, ignore_case: bool) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| {
            if ignore_case {
                k.eq_ignore_ascii_case(name)
            } else {
                k == name
            }
        })
        .map(|(_, v)| v.as_str())
}
