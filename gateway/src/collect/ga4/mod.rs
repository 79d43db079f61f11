//! `/g/collect`: gtag.js hits into sGTM events, as sGTM's GA4 client parses them.
//!
//! The query string carries parameters shared by every event of the request. A POST body
//! carries one event per line, each line URL-encoded parameters that add to or override
//! the shared ones (`\r\n` allowed, blank lines ignored). An empty body (GET, or
//! `navigator.sendBeacon` with everything in the URL) is one event from the query alone.
//! How each parameter lands in event data: see the `params` module.

mod client_hints;
mod consent;
mod items;
mod params;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::cell::OnceCell;

use hermes_crds::api::ClientKind;

use super::form::{self, Name};
use super::{CollectError, Limits};
use crate::event::{Event, RequestInfo};
use items::item_index;
use params::EventBuilder;

/// Parameters with their names decoded and their values as sent: a value is decoded only
/// when the event it belongs to is built (or it is `v` or `en`), a name read as text only
/// then too.
type Pairs<'a> = Vec<(Name<'a>, &'a [u8])>;

/// Parse one `/g/collect` request into its events, in body-line order.
///
/// `query` is the raw query string (without or with its leading `?`), `body` the raw
/// request body. `request` supplies `ip_override` (its `client_ip`), `user_agent` and the
/// `_ga` cookie. Refuses, with a reason, a hit over `limits`, an event without `en`, and a
/// `v` other than 2.
pub fn parse_ga4(
    query: &str,
    body: &[u8],
    request: &RequestInfo,
    limits: &Limits,
) -> Result<Vec<Event>, CollectError> {
    parse_ga4_selective(query, body, request, limits, &|_| true)
}

/// [`parse_ga4`], building the full event data only for events `needs_data` names: any
/// other event is refused exactly as it would be, and otherwise kept as its name alone
/// (most hits are page views no tag fires on: building their data is wasted work).
pub fn parse_ga4_selective(
    query: &str,
    body: &[u8],
    request: &RequestInfo,
    limits: &Limits,
    needs_data: &dyn Fn(&str) -> bool,
) -> Result<Vec<Event>, CollectError> {
    let shared = pairs(query.strip_prefix('?').unwrap_or(query).as_bytes());
    parse_events(shared, body, request, limits, needs_data)
}

/// The events of a request whose query parameters are `shared`.
fn parse_events(
    shared: Pairs<'_>,
    body: &[u8],
    request: &RequestInfo,
    limits: &Limits,
    needs_data: &dyn Fn(&str) -> bool,
) -> Result<Vec<Event>, CollectError> {
    let lines: Vec<&[u8]> = body
        .split(|&byte| byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .collect();
    if lines.len() > limits.max_events {
        return Err(CollectError::TooManyEvents {
            count: lines.len(),
            max: limits.max_events,
        });
    }
    check_counts(0, &shared, limits)?;
    // What built events take from the request: worked out once, and only if one is built.
    let parts = OnceCell::new();
    let build = |index, own: &[(Name<'_>, &[u8])]| {
        let parts = || parts.get_or_init(|| RequestParts::of(request));
        build_event(index, &shared, own, parts, limits, needs_data)
    };
    if lines.is_empty() {
        return Ok(vec![build(0, &[])?]);
    }
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let own = pairs(line);
            check_counts(index, &own, limits)?;
            build(index, &own)
        })
        .collect()
}

/// The pairs of a query string or body line, in a vector sized for them at once (a gtag
/// hit has about twenty: growing one pair at a time moved them four times).
fn pairs(input: &[u8]) -> Pairs<'_> {
    let mut pairs = Vec::with_capacity(form::most_pairs(input));
    pairs.extend(form::raw_pairs(input));
    pairs
}

/// What every event of a request takes from the request itself.
struct RequestParts<'r> {
    ip: Option<String>,
    user_agent: Option<&'r str>,
    /// The `_ga` cookie (its client id is read from it when an event is built).
    ga_cookie: Option<Cow<'r, str>>,
}

impl<'r> RequestParts<'r> {
    fn of(request: &'r RequestInfo) -> Self {
        RequestParts {
            ip: request.client_ip.map(crate::collect::client_ip::ip_text),
            user_agent: request.user_agent(),
            ga_cookie: request.cookie("_ga"),
        }
    }
}

/// The client id inside a `_ga` cookie: `GA1.1.1234567890.1700000000` → `1234567890.1700000000`.
fn ga_cookie_client_id(cookie: &str) -> Option<&str> {
    let mut parts = cookie.splitn(3, '.');
    let version = parts.next()?;
    let _domain_depth = parts.next()?;
    let id = parts.next()?;
    (version.starts_with("GA") && !id.is_empty()).then_some(id)
}

/// Refuse a parameter list (the query's or one line's) over the limits before any work.
fn check_counts(event: usize, pairs: &Pairs, limits: &Limits) -> Result<(), CollectError> {
    let items = pairs
        .iter()
        .filter(|(k, _)| item_index(k.as_bytes()).is_some())
        .count();
    let params = pairs.len() - items;
    if params > limits.max_params_per_event {
        return Err(CollectError::TooManyParams {
            event,
            count: params,
            max: limits.max_params_per_event,
        });
    }
    if items > limits.max_items_per_event {
        return Err(CollectError::TooManyItems {
            event,
            count: items,
            max: limits.max_items_per_event,
        });
    }
    Ok(())
}

/// One event from the shared parameters overridden by its own line's.
fn build_event<'p>(
    index: usize,
    shared: &Pairs,
    own: &[(Name<'_>, &[u8])],
    request: impl FnOnce() -> &'p RequestParts<'p>,
    limits: &Limits,
    needs_data: &dyn Fn(&str) -> bool,
) -> Result<Event, CollectError> {
    let overridden = |key: &[u8]| own.iter().any(|(k, _)| k.as_bytes() == key);
    let merged = || {
        shared
            .iter()
            .filter(|(k, _)| !overridden(k.as_bytes()))
            .chain(own.iter())
    };
    // One pass over the parameters for what every event is checked for: the last `v`
    // and `en` (a line's own win over the query's), the parameter count, and the first
    // item index over the limit.
    let (mut version, mut event_name, mut params, mut item_too_high) = (None, None, 0, None);
    for (key, value) in merged() {
        let key = key.as_bytes();
        match item_index(key) {
            Some(item) => {
                if item > limits.max_items_per_event {
                    item_too_high.get_or_insert(item);
                }
            }
            None => {
                params += 1;
                match key {
                    b"v" => version = Some(*value),
                    b"en" => event_name = Some(*value),
                    _ => {}
                }
            }
        }
    }
    match version.map(form::decode).as_deref() {
        None => return Err(CollectError::MissingVersion),
        Some("2") => {}
        Some(other) => return Err(CollectError::UnsupportedVersion(other.to_string())),
    }
    let name = match event_name.map(form::decode) {
        Some(name) if !name.is_empty() => name,
        _ => return Err(CollectError::MissingEventName { event: index }),
    };
    let name = name.as_ref();
    if params > limits.max_params_per_event {
        return Err(CollectError::TooManyParams {
            event: index,
            count: params,
            max: limits.max_params_per_event,
        });
    }
    if let Some(item) = item_too_high {
        return Err(CollectError::ItemIndexTooHigh {
            event: index,
            index: item,
            max: limits.max_items_per_event,
        });
    }
    if !needs_data(name) {
        return Ok(Event {
            client: ClientKind::Ga4,
            data: params::name_only(name),
        });
    }
    let mut builder = EventBuilder::new(name, params);
    for (key, value) in merged() {
        builder.apply(&key.as_str(), form::decode(value));
    }
    let request = request();
    let data = builder.finish(
        request.ip.clone(),
        request.user_agent,
        request.ga_cookie.as_deref().and_then(ga_cookie_client_id),
    );
    Ok(Event {
        client: ClientKind::Ga4,
        data,
    })
}
