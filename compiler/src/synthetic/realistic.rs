//! Realistic synthetic pairs: Tags and Triggers as varied as a real container's, so that
//! a namespace of them compresses about as badly as a real config does (the uniform pairs
//! compress 50-fold; these 13-fold: at 10,000 pairs 14.7 MB of JSON, what the issue
//! measured for a real namespace, and 1.15 MB of gzip) and 10,000 of them need more than
//! one ConfigMap.
//!
//! Pair `i` is drawn from its own random stream, seeded by the seed and `i` (so it is the
//! same whatever the count, and a change to one Tag leaves the others as they were):
//! names from vendor, purpose and market words; an event by name (GA4 recommended or
//! custom), by a list of names or by regex, one in ten Measurement-Protocol only; zero to
//! three conditions on event parameters or UTM query parameters (`equals`, `in`,
//! `contains`, `startsWith`, `endsWith`, `matchesRegex`, `greaterThan`, `exists`,
//! `notEmpty`) with random values; a topic from a pool of 40 ([`topic_names`]); a
//! destination id and three to ten payload fields with varied keys and constants (or the event data minus some keys plus
//! constants), typed fields, attributes on some Tags, `perItem` on some, an ordering key
//! and consent on a few. Each pair also knows a gtag hit that fires its Tag
//! ([`gtag_hit`]).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Value, json};

/// The seed the benchmarks, the scale test and `operator-scale` use.
pub const DEFAULT_SEED: u64 = 10;

const VENDORS: [&str; 20] = [
    "meta-capi",
    "tiktok-events",
    "bing-uet",
    "criteo",
    "braze",
    "segment",
    "salesforce",
    "hubspot",
    "bigquery",
    "fraud-check",
    "recommendations",
    "loyalty",
    "search-index",
    "pricing",
    "zendesk",
    "klaviyo",
    "snowplow",
    "optimizely",
    "affiliate",
    "attribution",
];
const PURPOSES: [&str; 16] = [
    "purchase",
    "lead",
    "sign-up",
    "add-to-cart",
    "checkout",
    "refund",
    "product-view",
    "search",
    "login",
    "subscribe",
    "wishlist",
    "share",
    "coupon",
    "review",
    "return",
    "newsletter",
];
const MARKETS: [&str; 12] = [
    "eu", "us", "uk", "de", "fr", "nl", "apac", "latam", "global", "b2b", "mobile", "web",
];
const QUALIFIERS: [&str; 10] = [
    "high-value",
    "returning",
    "first-visit",
    "paid-traffic",
    "organic",
    "logged-in",
    "guest",
    "promo",
    "app",
    "newsletter",
];
const RECOMMENDED_EVENTS: [&str; 20] = [
    "purchase",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "add_payment_info",
    "add_shipping_info",
    "view_item",
    "view_item_list",
    "select_item",
    "select_promotion",
    "view_promotion",
    "view_cart",
    "add_to_wishlist",
    "generate_lead",
    "sign_up",
    "login",
    "search",
    "share",
    "refund",
    "page_view",
];
const CUSTOM_NOUNS: [&str; 10] = [
    "newsletter",
    "coupon",
    "review",
    "video",
    "chat",
    "store_locator",
    "size_guide",
    "quiz",
    "referral",
    "checkout_step",
];
const CUSTOM_VERBS: [&str; 6] = ["open", "submit", "start", "complete", "click", "error"];
/// Event parameters conditions test (sent as `ep.`/`epn.` in the hit).
const CONDITION_PARAMS: [&str; 20] = [
    "page_type",
    "content_group",
    "user_tier",
    "shipping_tier",
    "coupon",
    "payment_type",
    "search_term",
    "country",
    "experiment_id",
    "list_name",
    "checkout_step",
    "cart_value",
    "page_path",
    "campaign",
    "affiliate_id",
    "store_id",
    "language_code",
    "currency_code",
    "ab_variant",
    "membership",
];
const UTM_PARAMS: [&str; 3] = ["utm_source", "utm_medium", "utm_campaign"];
const WORDS: [&str; 24] = [
    "gold",
    "silver",
    "bronze",
    "sale",
    "outlet",
    "kitchen",
    "garden",
    "sports",
    "kids",
    "fashion",
    "books",
    "audio",
    "express",
    "standard",
    "paypal",
    "card",
    "klarna",
    "summer",
    "winter",
    "spring",
    "members",
    "vip",
    "partner",
    "clearance",
];
const EVENT_KEYS: [&str; 16] = [
    "transaction_id",
    "value",
    "currency",
    "client_id",
    "page_path",
    "coupon",
    "shipping_tier",
    "payment_type",
    "search_term",
    "user_tier",
    "country",
    "list_name",
    "content_group",
    "event_name",
    "ga_session_id",
    "user_id",
];
const FIELD_KEYS: [&str; 32] = [
    "order_id",
    "orderId",
    "txn",
    "revenue",
    "amount",
    "currency_code",
    "user_id",
    "userId",
    "customer",
    "session",
    "page",
    "pagePath",
    "source",
    "channel",
    "campaign_id",
    "account",
    "pixel_id",
    "event_source",
    "event_time",
    "action",
    "label",
    "category",
    "market",
    "brand",
    "store",
    "tier",
    "coupon_code",
    "payment",
    "shipping",
    "search",
    "list",
    "client",
];
const ITEM_KEYS: [(&str, &str); 5] = [
    ("item_id", "string"),
    ("item_name", "string"),
    ("price", "number"),
    ("quantity", "integer"),
    ("item_brand", "string"),
];
const EXCLUDABLE: [&str; 5] = [
    "ip_override",
    "user_agent",
    "page_referrer",
    "screen_resolution",
    "language",
];
const TOPIC_DOMAINS: [&str; 8] = [
    "orders",
    "marketing",
    "crm",
    "analytics",
    "fraud",
    "catalog",
    "support",
    "finance",
];
const TOPIC_STREAMS: [&str; 5] = ["events", "conversions", "audiences", "signals", "exports"];

/// The topics realistic Tags publish to: every domain-stream combination (40).
pub fn topic_names() -> Vec<String> {
    TOPIC_DOMAINS
        .iter()
        .flat_map(|domain| {
            TOPIC_STREAMS
                .iter()
                .map(move |stream| format!("{domain}-{stream}"))
        })
        .collect()
}

/// A small, fast, deterministic random stream (SplitMix64): enough for test data.
struct Rng(u64);

impl Rng {
    fn for_pair(seed: u64, i: usize) -> Self {
        Rng(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// `len` random characters of `[a-z0-9]`.
    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }

    fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// One event or query parameter a hit sends so that a condition holds.
struct Sent {
    /// `ep.x`, `epn.x` or a bare query parameter.
    wire_key: String,
    value: String,
}

/// Everything pair `i` is made of, drawn once, rendered into its Trigger, its Tag (at any
/// version) and a hit.
pub(super) struct Pair {
    tag_name: String,
    trigger_name: String,
    event: Value,
    /// The event name a hit sends to match `event`.
    hit_event: String,
    measurement_protocol_only: bool,
    conditions: Vec<Value>,
    sent: Vec<Sent>,
    topic: String,
    fields: Vec<Value>,
    /// `Some(excluded keys)`: the payload is the event data minus these, plus `fields`.
    event_data_excluding: Option<Vec<&'static str>>,
    per_item: Option<Value>,
    attributes: Vec<Value>,
    ordering_key: Option<Value>,
    consent: Option<Value>,
}

impl Pair {
    pub(super) fn new(seed: u64, i: usize) -> Self {
        let mut rng = Rng::for_pair(seed, i);
        let (vendor, purpose, market) =
            (rng.pick(&VENDORS), rng.pick(&PURPOSES), rng.pick(&MARKETS));
        let tag_name = format!("{vendor}-{purpose}-{market}-{i}");
        let trigger_name = format!("{purpose}-{market}-{}-{i}", rng.pick(&QUALIFIERS));
        let (event, hit_event) = event_match(&mut rng);
        let measurement_protocol_only = rng.percent(10);
        let mut pair = Pair {
            tag_name,
            trigger_name,
            event,
            hit_event,
            measurement_protocol_only,
            conditions: Vec::new(),
            sent: Vec::new(),
            topic: format!("{}-{}", rng.pick(&TOPIC_DOMAINS), rng.pick(&TOPIC_STREAMS)),
            fields: Vec::new(),
            event_data_excluding: None,
            per_item: None,
            attributes: Vec::new(),
            ordering_key: None,
            consent: None,
        };
        pair.draw_conditions(&mut rng);
        pair.draw_tag(&mut rng, market);
        pair
    }

    fn draw_conditions(&mut self, rng: &mut Rng) {
        let count = match rng.below(100) {
            0..20 => 0,
            20..55 => 1,
            55..85 => 2,
            _ => 3,
        };
        let mut used = BTreeSet::new();
        while self.conditions.len() < count {
            let utm = rng.percent(10);
            let key = if utm {
                rng.pick(&UTM_PARAMS)
            } else {
                rng.pick(&CONDITION_PARAMS)
            };
            if !used.insert(key) {
                continue;
            }
            let variable = if utm {
                json!({"queryParameter": key})
            } else {
                json!({"eventData": key})
            };
            let (condition, value, numeric) = condition_on(rng, variable);
            let wire_key = match (utm, numeric) {
                (true, _) => key.to_string(),
                (false, true) => format!("epn.{key}"),
                (false, false) => format!("ep.{key}"),
            };
            self.conditions.push(condition);
            self.sent.push(Sent { wire_key, value });
        }
    }

    fn draw_tag(&mut self, rng: &mut Rng, market: &str) {
        if rng.percent(15) {
            let conditions = if rng.percent(50) {
                json!([{"variable": {"item": "item_id"}, "operator": "notEmpty"}])
            } else {
                json!([])
            };
            self.per_item = Some(json!({"conditions": conditions}));
        }
        if self.per_item.is_none() && rng.percent(20) {
            let excluded = (0..1 + rng.below(3)).map(|_| rng.pick(&EXCLUDABLE));
            self.event_data_excluding =
                Some(excluded.collect::<BTreeSet<_>>().into_iter().collect());
        }
        let count = if self.event_data_excluding.is_some() {
            1 + rng.below(3)
        } else {
            3 + rng.below(8)
        };
        let mut keys = BTreeSet::from(["version".to_string(), "destination".to_string()]);
        // Every vendor Tag names its account, pixel or list: an id of its own.
        let destination = format!("{}-{}", &self.tag_name[..3], rng.digits(15));
        self.fields
            .push(json!({"key": "destination", "value": {"constant": destination}}));
        if self.per_item.is_some() {
            for (key, type_) in ITEM_KEYS.into_iter().take(2 + rng.below(4)) {
                keys.insert(key.to_string());
                self.fields
                    .push(json!({"key": key, "value": {"item": key}, "type": type_}));
            }
        }
        while self.fields.len() < count + 1 {
            let key = if rng.percent(25) {
                format!("cf_{}", rng.token(4))
            } else {
                rng.pick(&FIELD_KEYS).to_string()
            };
            if !keys.insert(key.clone()) {
                continue;
            }
            let (value, type_) = field_value(rng);
            self.fields
                .push(json!({"key": key, "value": value, "type": type_}));
        }
        let attributes = if rng.percent(40) { 1 + rng.below(3) } else { 0 };
        let mut names = BTreeSet::new();
        for _ in 0..attributes {
            let (name, value) = match rng.below(6) {
                0 => ("source", json!({"constant": rng.pick(&WORDS)})),
                1 => ("event", json!({"eventData": "event_name"})),
                2 => ("utm_source", json!({"queryParameter": "utm_source"})),
                3 => ("tenant", json!({"constant": format!("t-{}", rng.token(6))})),
                4 => ("currency", json!({"eventData": "currency"})),
                _ => ("market", json!({"constant": market})),
            };
            if names.insert(name) {
                self.attributes.push(json!({"name": name, "value": value}));
            }
        }
        if rng.percent(10) {
            self.ordering_key = Some(json!({"eventData": "client_id"}));
        }
        if rng.percent(20) {
            self.consent = Some(if rng.percent(70) {
                json!({"analyticsStorage": true})
            } else {
                json!({"adStorage": true})
            });
        }
    }

    pub(super) fn tag_name(&self) -> &str {
        &self.tag_name
    }

    pub(super) fn trigger_name(&self) -> &str {
        &self.trigger_name
    }

    pub(super) fn topic(&self) -> &str {
        &self.topic
    }

    pub(super) fn trigger_spec(&self) -> Value {
        let mut spec = json!({"event": self.event});
        if !self.conditions.is_empty() {
            spec["conditions"] = Value::Array(self.conditions.clone());
        }
        if self.measurement_protocol_only {
            spec["client"] = json!("measurementProtocol");
        }
        spec
    }

    /// The Tag's spec with a constant field `version`.
    pub(super) fn tag_spec(&self, project: &str, version: u64) -> Value {
        let mut fields = self.fields.clone();
        fields.push(json!({"key": "version", "value": {"constant": version.to_string()}}));
        let payload = match &self.event_data_excluding {
            Some(excluded) => json!({"eventData": {"exclude": excluded, "add": fields}}),
            None => json!({"fields": fields}),
        };
        let mut spec = json!({
            "firingTriggers": [self.trigger_name],
            "topic": format!("projects/{project}/topics/{}", self.topic),
            "payload": payload,
        });
        let optional = [
            ("perItem", self.per_item.clone()),
            ("orderingKey", self.ordering_key.clone()),
            ("consent", self.consent.clone()),
            (
                "attributes",
                (!self.attributes.is_empty()).then(|| Value::Array(self.attributes.clone())),
            ),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                spec[key] = value;
            }
        }
        spec
    }

    /// A `/g/collect` path and query that fires this pair's Tag (one message, or one per
    /// item: the hit carries one item); `None` for a Measurement-Protocol-only Trigger.
    pub(super) fn gtag_hit(&self, index: usize) -> Option<String> {
        if self.measurement_protocol_only {
            return None;
        }
        let mut hit = format!(
            "/g/collect?v=2&tid=G-0000&cid=555.{index}&en={}&cu=EUR&epn.value=42.5",
            self.hit_event
        );
        for sent in &self.sent {
            let _ = write!(hit, "&{}={}", sent.wire_key, sent.value);
        }
        if self.per_item.is_some() {
            let _ = write!(
                hit,
                "&pr1=idSKU-{index}~nmItem%20{index}~brHermes~pr19.5~qt2"
            );
        }
        Some(hit)
    }
}

/// An event match and the event name a hit sends to meet it.
fn event_match(rng: &mut Rng) -> (Value, String) {
    let custom = |rng: &mut Rng| format!("{}_{}", rng.pick(&CUSTOM_NOUNS), rng.pick(&CUSTOM_VERBS));
    let name = |rng: &mut Rng| {
        if rng.percent(50) {
            rng.pick(&RECOMMENDED_EVENTS).to_string()
        } else {
            custom(rng)
        }
    };
    match rng.below(100) {
        0..75 => {
            let event = name(rng);
            (json!({"name": event}), event)
        }
        75..90 => {
            let names: Vec<String> = (0..2 + rng.below(2)).map(|_| name(rng)).collect();
            let hit = names[0].clone();
            (json!({"names": names}), hit)
        }
        _ => {
            let noun = rng.pick(&CUSTOM_NOUNS);
            let (a, b) = (rng.pick(&CUSTOM_VERBS), rng.pick(&CUSTOM_VERBS));
            let regex = format!("{noun}_({a}|{b})(_[0-9]+)?");
            (
                json!({"regex": regex}),
                format!("{noun}_{a}_{}", rng.below(9)),
            )
        }
    }
}

/// A condition on `variable` with random operands, the value a hit sends so that it
/// holds, and whether that value is numeric.
fn condition_on(rng: &mut Rng, variable: Value) -> (Value, String, bool) {
    let word = rng.pick(&WORDS);
    match rng.below(100) {
        0..25 => {
            let value = format!("{word}-{}", rng.token(5));
            let condition = json!({"variable": variable, "operator": "equals", "value": value});
            (condition, value, false)
        }
        25..35 => {
            let values: Vec<String> = (0..2 + rng.below(3))
                .map(|_| format!("{}-{}", rng.pick(&WORDS), rng.token(4)))
                .collect();
            let sent = values[rng.below(values.len())].clone();
            (
                json!({"variable": variable, "operator": "in", "values": values}),
                sent,
                false,
            )
        }
        35..45 => {
            let part = format!("/{word}/{}", rng.token(3));
            let sent = format!("/shop{part}/p{}", rng.digits(3));
            (
                json!({"variable": variable, "operator": "contains", "value": part}),
                sent,
                false,
            )
        }
        45..55 => {
            let prefix = format!("/{}/{word}", rng.pick(&MARKETS));
            let sent = format!("{prefix}/{}", rng.token(6));
            let condition = json!({"variable": variable, "operator": "startsWith", "value": prefix, "ignoreCase": rng.percent(30)});
            (condition, sent, false)
        }
        55..60 => {
            let suffix = format!("-{}", rng.token(3));
            let sent = format!("{word}{suffix}");
            (
                json!({"variable": variable, "operator": "endsWith", "value": suffix}),
                sent,
                false,
            )
        }
        60..75 => {
            let (market, digits) = (rng.pick(&MARKETS), rng.digits(3));
            let regex = format!("^/({market}|{})/{word}/[0-9]{{2,4}}$", rng.pick(&MARKETS));
            let sent = format!("/{market}/{word}/{digits}");
            (
                json!({"variable": variable, "operator": "matchesRegex", "value": regex}),
                sent,
                false,
            )
        }
        75..85 => {
            let threshold = 10 + rng.below(5000);
            let sent = (threshold + 1 + rng.below(100)).to_string();
            (
                json!({"variable": variable, "operator": "greaterThan", "value": threshold}),
                sent,
                true,
            )
        }
        85..93 => (
            json!({"variable": variable, "operator": "exists"}),
            "1".into(),
            false,
        ),
        _ => (
            json!({"variable": variable, "operator": "notEmpty"}),
            word.into(),
            false,
        ),
    }
}

/// A payload field's value and JSON type.
fn field_value(rng: &mut Rng) -> (Value, &'static str) {
    match rng.below(100) {
        0..40 => {
            let key = rng.pick(&EVENT_KEYS);
            let type_ = if key == "value" { "number" } else { "string" };
            (json!({"eventData": key}), type_)
        }
        40..58 => (
            json!({"constant": format!("cmp_{}", rng.token(10))}),
            "string",
        ),
        58..66 => (
            json!({"constant": format!("acct-{}", rng.digits(9))}),
            "string",
        ),
        66..74 => (json!({"constant": rng.pick(&WORDS)}), "string"),
        74..79 => (json!({"constant": rng.below(1000)}), "integer"),
        79..83 => (json!({"constant": true}), "boolean"),
        83..93 => (json!({"queryParameter": rng.pick(&UTM_PARAMS)}), "string"),
        93..97 => (json!({"requestHeader": "user-agent"}), "string"),
        _ => (json!({"eventData": "items[*].item_id"}), "json"),
    }
}
