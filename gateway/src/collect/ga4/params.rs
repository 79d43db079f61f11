//! gtag wire parameters → sGTM common event data, one parameter at a time.
//!
//! | wire | event data |
//! |---|---|
//! | `en`, `cid`, `uid` | `event_name`, `client_id`, `user_id` |
//! | `sid`, `sct`, `_et` | `ga_session_id` (string), `ga_session_number`, `engagement_time_msec` (numbers) |
//! | `dl`, `dr`, `dt`, `dh`, `ul`, `sr`, `cu` | `page_location`, `page_referrer`, `page_title`, `page_hostname`, `language`, `screen_resolution`, `currency` |
//! | `cs`, `cm`, `cn`, `cc`, `ck`, `ci` | `campaign_source`, `campaign_medium`, `campaign_name`, `campaign_content`, `campaign_term`, `campaign_id` |
//! | `ep.x` / `epn.x` | `x` (string / number) |
//! | `up.x` / `upn.x` | `x-ga-mp2-user_properties.x` (string / number) |
//! | `pr1`…`prN` | `items[]` (see `items`) |
//! | `uaa`, `uab`, `uafvl`, `uamb`, `uam`, `uap`, `uapv`, `uaw` | `client_hints.{architecture, bitness, full_version_list, mobile, model, platform, platform_version, wow64}` |
//! | `v`, `tid`, `gtm` | `x-ga-protocol_version`, `x-ga-measurement_id`, `x-ga-gtm_version` |
//! | `_p`, `_s`, `tfd` | `x-ga-page_id`, `x-ga-request_count`, `x-ga-tfd` (numbers) |
//! | `gcs`, `gcd`, `npa`, `dma`, `dma_cps`, `gcu`, `gcut` | `x-ga-<name>`; `gcs`/`gcd` also decoded under `event::CONSENT_KEY` |
//! | `_dbg` | `debug_mode: true` |
//! | `_uip` | `ip_override` (wins over the request's address) |
//! | other `_x` (`_ss`, `_fv`, `_nsi`, `_eu`, `_ee`, `_c`, `_glv`, `_geo`, `_rdi`…) | `x-ga-system_properties.x` |
//! | `sst.x` | `x-sst-system_properties.x` |
//! | anything else (`seg`, `ir`, `tt`, `richsstsse`, `are`, `pscdl`, `frm`, unknown names) | `x-ga-mp2-<name>` (string, as sent) |
//!
//! "Anything else" keeps unknown parameters rather than dropping them, under the same
//! `x-ga-mp2-` prefix sGTM uses for protocol keys it has no common name for.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::client_hints::{add_hint, hint_key};
use super::consent::ConsentState;
use super::items::{item_index, parse_item};
use crate::collect::number_or_string;
use crate::event::{CONSENT_KEY, EventData};

/// Event data under construction for one event; parameters are applied in order, a later
/// one overriding an earlier one of the same name.
pub(crate) struct EventBuilder<'a> {
    data: EventData,
    items: Vec<(usize, Cow<'a, str>)>,
    user_properties: Map<String, Value>,
    system_properties: Map<String, Value>,
    sst_properties: Map<String, Value>,
    client_hints: Map<String, Value>,
    gcs: Option<Cow<'a, str>>,
    gcd: Option<Cow<'a, str>>,
}

impl<'a> EventBuilder<'a> {
    /// A builder whose event data starts with `event_name`, with room for `params` keys.
    pub(crate) fn new(event_name: &str, params: usize) -> Self {
        let mut data = EventData::with_capacity_and_hasher(params + 8, Default::default());
        data.insert("event_name".into(), Value::String(event_name.to_string()));
        EventBuilder {
            data,
            items: Vec::new(),
            user_properties: Map::new(),
            system_properties: Map::new(),
            sst_properties: Map::new(),
            client_hints: Map::new(),
            gcs: None,
            gcd: None,
        }
    }

    /// Apply one wire parameter, its value decoded (`en` is skipped: the name was given
    /// to [`Self::new`]).
    pub(crate) fn apply(&mut self, key: &str, value: Cow<'a, str>) {
        if let Some((prefix, name)) = key.split_once('.')
            && self.apply_prefixed(prefix, name, &value)
        {
            return;
        }
        if let Some(index) = item_index(key.as_bytes()) {
            self.items.push((index, value));
            return;
        }
        let decoded = value;
        let value = decoded.as_ref();
        if let Some(hint) = hint_key(key) {
            add_hint(&mut self.client_hints, hint, value);
            return;
        }
        let text = || Value::String(value.to_string());
        let (name, value) = match key {
            "en" | "" => return,
            "cid" => ("client_id", text()),
            "uid" => ("user_id", text()),
            "sid" => ("ga_session_id", text()),
            "sct" => ("ga_session_number", number_or_string(value)),
            "_et" => ("engagement_time_msec", number_or_string(value)),
            "dl" => ("page_location", text()),
            "dr" => ("page_referrer", text()),
            "dt" => ("page_title", text()),
            "dh" => ("page_hostname", text()),
            "ul" => ("language", text()),
            "sr" => ("screen_resolution", text()),
            "cu" => ("currency", text()),
            "cs" => ("campaign_source", text()),
            "cm" => ("campaign_medium", text()),
            "cn" => ("campaign_name", text()),
            "cc" => ("campaign_content", text()),
            "ck" => ("campaign_term", text()),
            "ci" => ("campaign_id", text()),
            "v" => ("x-ga-protocol_version", text()),
            "tid" => ("x-ga-measurement_id", text()),
            "gtm" => ("x-ga-gtm_version", text()),
            "_p" => ("x-ga-page_id", number_or_string(value)),
            "_s" => ("x-ga-request_count", number_or_string(value)),
            "tfd" => ("x-ga-tfd", number_or_string(value)),
            "_dbg" => ("debug_mode", Value::Bool(true)),
            "_uip" => ("ip_override", text()),
            "gcs" => {
                self.gcs = Some(decoded.clone());
                ("x-ga-gcs", text())
            }
            "gcd" => {
                self.gcd = Some(decoded.clone());
                ("x-ga-gcd", text())
            }
            "npa" | "dma" | "dma_cps" | "gcu" | "gcut" => {
                self.data.insert(prefixed("x-ga-", key).into(), text());
                return;
            }
            _ => {
                if let Some(system) = key.strip_prefix('_') {
                    self.system_properties.insert(system.to_string(), text());
                } else {
                    self.data.insert(prefixed("x-ga-mp2-", key).into(), text());
                }
                return;
            }
        };
        self.data.insert(name.into(), value);
    }

    /// `ep.`, `epn.`, `up.`, `upn.`, `sst.` parameters; false for other prefixes.
    fn apply_prefixed(&mut self, prefix: &str, name: &str, value: &str) -> bool {
        let value = match prefix {
            "ep" | "up" | "sst" => Value::String(value.to_string()),
            "epn" | "upn" => number_or_string(value),
            _ => return false,
        };
        if !name.is_empty() {
            let name = name.to_string();
            match prefix {
                "ep" | "epn" => {
                    self.data.insert(name.into(), value);
                }
                "up" | "upn" => {
                    self.user_properties.insert(name, value);
                }
                _ => {
                    self.sst_properties.insert(name, value);
                }
            }
        }
        true
    }

    /// The finished event data. `ip` and `user_agent` come from the request and fill
    /// `ip_override` / `user_agent` unless the hit set them; `js_client_id` (from the `_ga`
    /// cookie) fills `x-ga-js_client_id` and stands in for a missing `cid`.
    pub(crate) fn finish(
        mut self,
        ip: Option<String>,
        user_agent: Option<&str>,
        js_client_id: Option<&str>,
    ) -> EventData {
        if !self.items.is_empty() {
            // Order by index; a repeated index keeps its last value.
            self.items.sort_by_key(|(index, _)| *index);
            let mut items: Vec<Value> = Vec::with_capacity(self.items.len());
            for (position, (index, value)) in self.items.iter().enumerate() {
                let repeated = self
                    .items
                    .get(position + 1)
                    .is_some_and(|(next, _)| next == index);
                if !repeated {
                    items.push(parse_item(value));
                }
            }
            self.data.insert("items".into(), Value::Array(items));
        }
        let objects = [
            ("x-ga-mp2-user_properties", self.user_properties),
            ("x-ga-system_properties", self.system_properties),
            ("x-sst-system_properties", self.sst_properties),
            ("client_hints", self.client_hints),
        ];
        for (key, object) in objects {
            if !object.is_empty() {
                self.data.insert(key.into(), Value::Object(object));
            }
        }
        let mut consent = ConsentState::default();
        if let Some(gcd) = self.gcd {
            consent.apply_gcd(&gcd);
        }
        if let Some(gcs) = self.gcs {
            consent.apply_gcs(&gcs);
        }
        if let Some(state) = consent.to_value() {
            self.data.insert(CONSENT_KEY.into(), state);
        }
        if let Some(ip) = ip
            && !self.data.contains_key("ip_override")
        {
            self.data.insert("ip_override".into(), Value::String(ip));
        }
        if let Some(agent) = user_agent {
            self.data
                .insert("user_agent".into(), Value::String(agent.to_string()));
        }
        if let Some(id) = js_client_id {
            self.data
                .insert("x-ga-js_client_id".into(), Value::String(id.to_string()));
            if !self.data.contains_key("client_id") {
                self.data
                    .insert("client_id".into(), Value::String(id.to_string()));
            }
        }
        self.data
    }
}

/// The event data of an event nobody reads beyond its name: `event_name` alone, in a map
/// sized for it (most events of a hit are such; a builder's map has room for a full event).
pub(crate) fn name_only(event_name: &str) -> EventData {
    let mut data = EventData::with_capacity_and_hasher(1, Default::default());
    data.insert("event_name".into(), Value::String(event_name.to_string()));
    data
}

/// `prefix` + `key` in one allocation (`format!` goes through the formatting machinery,
/// on several parameters of every hit).
fn prefixed(prefix: &str, key: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + key.len());
    name.push_str(prefix);
    name.push_str(key);
    name
}
