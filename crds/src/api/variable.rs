//! Variables: where a trigger condition, a lookup table or a tag payload reads a value.
//!
//! Exactly one source is set per variable (the compiler reports a variable with none or
//! several). A variable resolves to zero or more values: event-data paths through `[*]`
//! and `item` variables outside a per-item fan-out yield one value per item, and a
//! condition on such a variable holds when it holds for any value ("any item" semantics).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One source of a value, as sGTM variables are: event data, request data, a constant
/// or a lookup table. Set exactly one source (the API server refuses none or several).
/// Every source works for hits of both clients (`ga4` on `/g/collect`,
/// `measurementProtocol` on `/mp/collect`) unless its field says otherwise.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct Variable {
    /// Event data by key or dot path, as sGTM's Event Data variable: `event_name`,
    /// `client_id`, `value`, `sku`, `x-ga-mp2-user_properties.tier`, `items.0.item_id`.
    /// `items[*].item_id` reads the key of every item (any-item semantics in conditions,
    /// an array in payloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_data: Option<String>,
    /// A key of the current item (`item_id`, `price`, `promotion_id`, custom item params).
    /// Inside a tag's `perItem` fan-out it is the item being sent; elsewhere it means
    /// "any item of the event".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// A request header by name (case-insensitive), e.g. `origin` or `x-shop-id`. For
    /// Measurement Protocol hits these are the sending server's headers, not the browser's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header: Option<String>,
    /// A query-string parameter of the request by name, e.g. `tid` or `utm_source`. For
    /// `ga4` hits the gtag parameters; for `measurementProtocol` hits only
    /// `measurement_id` and `api_secret` are in the query string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_parameter: Option<String>,
    /// A cookie of the request by name, e.g. `_ga`. Only `ga4` hits (from browsers) carry
    /// the site's cookies; Measurement Protocol hits usually have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// A property of the request itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestProperty>,
    /// A literal value: any scalar, written as is (`constant: 2`, `constant: true`,
    /// `constant: hermes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::schema::any_scalar")]
    pub constant: Option<crate::api::scalar::Scalar>,
    /// The output of the LookupTable of this name (same namespace) for its input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup_table: Option<String>,
}

/// Request properties a variable can read.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum RequestProperty {
    /// The client's IP address (after trusted-proxy `X-Forwarded-For` handling).
    ClientIp,
    /// The `User-Agent` header.
    UserAgent,
    /// The request path, e.g. `/g/collect`.
    Path,
    /// The HTTP method, e.g. `GET`.
    Method,
    /// Which client claimed the hit: `ga4` or `measurementProtocol`.
    Client,
}

/// The client (protocol) a hit arrived through.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ClientKind {
    /// gtag.js / GA4 web hits on `/g/collect`.
    Ga4,
    /// GA4 Measurement Protocol JSON on `/mp/collect`.
    MeasurementProtocol,
}

impl ClientKind {
    /// The name used in event data and the `request.client` variable.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Ga4 => "ga4",
            ClientKind::MeasurementProtocol => "measurementProtocol",
        }
    }
}

impl Variable {
    /// Names of the sources that are set, in field order; the compiler wants exactly one.
    pub fn sources_set(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        if self.event_data.is_some() {
            set.push("eventData");
        }
        if self.item.is_some() {
            set.push("item");
        }
        if self.request_header.is_some() {
            set.push("requestHeader");
        }
        if self.query_parameter.is_some() {
            set.push("queryParameter");
        }
        if self.cookie.is_some() {
            set.push("cookie");
        }
        if self.request.is_some() {
            set.push("request");
        }
        if self.constant.is_some() {
            set.push("constant");
        }
        if self.lookup_table.is_some() {
            set.push("lookupTable");
        }
        set
    }
}
