//! The sGTM event model: what a client (GA4, Measurement Protocol) makes of a request, and
//! what triggers, variables and payloads read.
//!
//! Event data is a JSON object with sGTM's common event data keys (`event_name`,
//! `client_id`, `items`, `x-ga-*`, …), so payloads can send it as it is.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

use axum::http::header::{AsHeaderName, COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use hermes_crds::api::ClientKind;
use indexmap::IndexMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// sGTM event data: one JSON object per event, its keys in the order the parser wrote
/// them (serialized, as a JSON object, exactly as a `serde_json::Map` with the same
/// entries). Keys are hashed with foldhash, not SipHash: every key of every event a tag
/// may fire on is hashed on insert, and SipHash was 2 % of the gateway's samples. A hit
/// carries at most `limits.max_params_per_event` keys an event, so a flood of colliding
/// keys stays bounded. Most keys are sGTM's own names (`page_location`, `client_id`, …):
/// those are borrowed, not allocated for every event; only a hit's own names (`ep.*`,
/// unknown parameters, a Measurement Protocol event's params) are owned.
pub type EventData = IndexMap<Cow<'static, str>, Value, foldhash::fast::RandomState>;

/// A copy of event data as a JSON value, for traces and tools.
pub fn event_data_value(data: &EventData) -> Value {
    Value::Object(
        data.iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect(),
    )
}

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
        // serialize equally. Serialized straight into the hash: no buffer per event.
        // Writing to a hasher cannot fail, nor can serializing a `Value`.
        let _ = serde_json::to_writer(&mut hasher, &self.data);
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
    /// The headers as received; cookies decoded when one is first read.
    pub headers: Headers,
    /// The query string, decoded when a parameter is first read.
    pub query: Query,
    /// The client's IP (after trusted-proxy handling).
    pub client_ip: Option<IpAddr>,
}

impl RequestInfo {
    /// The first header of this name (case-insensitive) whose value is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The first query parameter of this name.
    pub fn query_parameter(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query.first(name)
    }

    /// The first cookie of this name.
    pub fn cookie(&self, name: &str) -> Option<Cow<'_, str>> {
        self.headers.cookie(name)
    }

    /// The `User-Agent` header.
    pub fn user_agent(&self) -> Option<&str> {
        self.headers.get(USER_AGENT)
    }
}

/// A request's headers as received, read in place: a browser sends about fifteen, and
/// most hits are read for nothing but their user agent, so copying each into owned
/// strings cost more than the rest of a page view's handling. One cookie is looked up by
/// scanning the `Cookie` headers and decoding only its value (the GA4 parser's `_ga`, a
/// cookie variable, the preview's session); all of them are split and decoded only when
/// all are asked for.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    map: HeaderMap,
    cookies: OnceLock<Vec<(String, String)>>,
}

impl Headers {
    /// The headers of a request.
    pub fn new(map: HeaderMap) -> Self {
        Headers {
            map,
            cookies: OnceLock::new(),
        }
    }

    /// These headers with `cookies` (decoded) standing for whatever their `Cookie`
    /// headers say: for callers that describe a hit's cookies as pairs (`hermes test`).
    pub fn with_cookies(self, cookies: Vec<(String, String)>) -> Self {
        Headers {
            map: self.map,
            cookies: OnceLock::from(cookies),
        }
    }

    /// The first header of this name (case-insensitive) whose value is text (visible
    /// ASCII); headers with other bytes are skipped, as before they were ever copied.
    /// (A [`HeaderName`] is looked up without parsing a name first.)
    pub fn get(&self, name: impl AsHeaderName) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of this header that is text, in arrival order.
    pub fn get_all<'a>(&'a self, name: impl AsHeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.map
            .get_all(name)
            .into_iter()
            .filter_map(|value| value.to_str().ok())
    }

    /// The first cookie of this name, its value percent-decoded: as [`Headers::cookies`]
    /// would give it, without splitting and decoding every other cookie (a browser's
    /// `Cookie` header carries a handful, and a hit reads one or two).
    pub fn cookie(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(cookies) = self.cookies.get() {
            return cookies
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| Cow::Borrowed(value.as_str()));
        }
        self.cookie_pairs()
            .find(|(cookie, _)| *cookie == name)
            .map(|(_, value)| decode_cookie_value(value))
    }

    /// Every cookie of every `Cookie` header, values percent-decoded, in arrival order.
    pub fn cookies(&self) -> &[(String, String)] {
        self.cookies.get_or_init(|| {
            self.cookie_pairs()
                .map(|(name, value)| (name.to_string(), decode_cookie_value(value).into_owned()))
                .collect()
        })
    }

    /// Every `name=value` of every `Cookie` header, in arrival order: names trimmed,
    /// values as sent; a pair without `=` is skipped.
    fn cookie_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.get_all(COOKIE)
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                Some((name.trim(), value))
            })
    }
}

/// A cookie's value as sent, trimmed and percent-decoded (bytes that are not UTF-8 become
/// U+FFFD).
fn decode_cookie_value(value: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(value.trim()).decode_utf8_lossy()
}

impl Headers {
    /// Headers of these `(name, value)` pairs, or the first pair no request can carry.
    pub fn try_from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, InvalidHeader> {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let (name, value) = header(name.as_ref(), value.as_ref())?;
            map.append(name, value);
        }
        Ok(Headers::new(map))
    }
}

/// A header no request can carry: its name as given, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("the header {name:?} cannot be sent: {reason}")]
pub struct InvalidHeader {
    /// The name as given.
    pub name: String,
    /// What is wrong with the name or the value.
    pub reason: String,
}

/// One header, checked.
fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), InvalidHeader> {
    let invalid = |reason: String| InvalidHeader {
        name: name.to_string(),
        reason,
    };
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    let value = HeaderValue::from_str(value).map_err(|e| invalid(e.to_string()))?;
    Ok((header, value))
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map && self.cookies() == other.cookies()
    }
}

/// Headers of these `(name, value)` pairs, for tests and tools; a pair that is no valid
/// header is left out.
impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok((name, value)) = header(name.as_ref(), value.as_ref()) {
                map.append(name, value);
            }
        }
        Headers::new(map)
    }
}

/// A request's query string as sent, decoded into [`Parameters`] the first time one is
/// read: most hits are read by nothing but the GA4 parser, which reads the raw string
/// itself and decodes only what it keeps.
#[derive(Debug, Clone, Default)]
pub struct Query {
    raw: String,
    decoded: OnceLock<Parameters>,
}

impl Query {
    /// The query string `raw` (what follows the `?` of the request target).
    pub fn new(raw: &str) -> Self {
        Query {
            raw: raw.to_string(),
            decoded: OnceLock::new(),
        }
    }

    /// The query string as sent.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The first value of `name`, decoded: as [`Query::parameters`] would give it, without
    /// decoding every other parameter (a gtag hit has about twenty, and a variable reads
    /// one).
    pub fn first(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(parameters) = self.decoded.get() {
            return parameters.first(name).map(Cow::Borrowed);
        }
        crate::collect::form::first(self.raw.as_bytes(), name)
    }

    /// The decoded parameters, in order.
    pub fn parameters(&self) -> &Parameters {
        self.decoded
            .get_or_init(|| crate::collect::form::parameters(self.raw.as_bytes()))
    }
}

impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.parameters() == other.parameters()
    }
}

/// A query of these decoded pairs (encoded as a form would send them).
impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Query {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let decoded: Parameters = pairs.into_iter().collect();
        let raw = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(decoded.iter())
            .finish();
        Query {
            raw,
            decoded: OnceLock::from(decoded),
        }
    }
}

/// Decoded `name=value` pairs in arrival order, all in one string: a gtag hit's ~25 query
/// parameters cost two allocations, not two each. Repeated names are all kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters {
    text: String,
    /// Per pair: where its name ends and its value ends in `text` (each starts where the
    /// one before it ends).
    ends: Vec<(u32, u32)>,
}

impl Parameters {
    /// Room for `pairs` pairs of `bytes` decoded bytes in all.
    pub(crate) fn with_capacity(pairs: usize, bytes: usize) -> Self {
        Parameters {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(pairs),
        }
    }

    /// Append one pair whose parts `write` turns into text, appending to the shared
    /// string (so a decoder writes straight into it).
    pub(crate) fn push_with<P>(
        &mut self,
        name: P,
        value: P,
        mut write: impl FnMut(P, &mut String),
    ) {
        write(name, &mut self.text);
        let name_end = self.offset();
        write(value, &mut self.text);
        let value_end = self.offset();
        self.ends.push((name_end, value_end));
    }

    /// Append one pair.
    pub fn push(&mut self, name: &str, value: &str) {
        self.push_with(name, value, |part, text| text.push_str(part));
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let (name_end, value_end) = (name_end as usize, value_end as usize);
            let pair = (
                self.text.get(start..name_end).unwrap_or(""),
                self.text.get(name_end..value_end).unwrap_or(""),
            );
            start = value_end;
            pair
        })
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// `text`'s length as an offset: parameters come from a request line, far below 4 GiB
    /// (the server refuses long URIs first); a longer one saturates, ending later pairs
    /// empty rather than wrong.
    fn offset(&self) -> u32 {
        u32::try_from(self.text.len()).unwrap_or(u32::MAX)
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Parameters {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut parameters = Parameters::default();
        for (name, value) in pairs {
            parameters.push(name.as_ref(), value.as_ref());
        }
        parameters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are what consumers de-duplicate on, so they must not change between versions:
    /// a hit retried across an upgrade must give the id its first attempt had. The
    /// expected ids are what the gateway gave when this test was written.
    #[test]
    fn the_stable_id_of_an_event_is_the_same_as_earlier_versions_gave() {
        let data = serde_json::json!({
            "event_name": "purchase",
            "client_id": "1111111111.1732880000",
            "value": 59.9,
            "page_title": "Caf\u{e9} \"Dog\" Bowls\n",
            "items": [{"item_id": "SKU-1", "quantity": 2}, {"item_id": "SKU-2", "price": 9.95}],
            "x-ga-system_properties": {"ss": "1", "fv": "2"},
        });
        let Value::Object(data) = data else {
            unreachable!("a JSON object literal")
        };
        let ga4 = Event {
            client: ClientKind::Ga4,
            data: data
                .clone()
                .into_iter()
                .map(|(k, v)| (k.into(), v))
                .collect(),
        };
        let mp = Event {
            client: ClientKind::MeasurementProtocol,
            data: data.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        };
        assert_eq!(
            [ga4.stable_id(0), ga4.stable_id(1), mp.stable_id(0)],
            [
                "2d47b729-d6e0-8878-9d74-7a8c5443f26c",
                "8c857bf4-213c-8070-a9a3-321ba319e857",
                "ebae9936-22ea-8737-9943-519a555bcff8",
            ]
        );
    }

    #[test]
    fn a_query_is_decoded_when_first_read_and_compares_by_its_parameters() {
        let query = Query::new("dl=https%3A%2F%2Fshop.example%2F&dt=Dog+Bowls&en=page_view");
        assert_eq!(
            query.raw(),
            "dl=https%3A%2F%2Fshop.example%2F&dt=Dog+Bowls&en=page_view"
        );
        let request = RequestInfo {
            query,
            ..RequestInfo::default()
        };
        assert_eq!(
            request.query_parameter("dl").as_deref(),
            Some("https://shop.example/")
        );
        assert_eq!(request.query_parameter("dt").as_deref(), Some("Dog Bowls"));
        assert_eq!(request.query_parameter("cid"), None);
        let built: Query = [
            ("dl", "https://shop.example/"),
            ("dt", "Dog Bowls"),
            ("en", "page_view"),
        ]
        .into_iter()
        .collect();
        assert_eq!(built, request.query, "same parameters, however encoded");
        assert_eq!(
            Query::new(built.raw()).parameters(),
            built.parameters(),
            "a built query's raw form decodes to its parameters"
        );
    }
}
