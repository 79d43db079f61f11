//! A test's hit → the request description and events, through the gateway's own parsers
//! (`parse_ga4`, `parse_mp`), so a test sees what the gateway would.

use std::time::SystemTime;

use hermes_gateway::collect::{Limits, MpQuery, parse_ga4, parse_mp};
use hermes_gateway::event::{Event, RequestInfo};
use url::{Url, form_urlencoded};

use super::file::Hit;

/// Why a hit produced no events: what the gateway would answer with a 4xx.
#[derive(Debug, thiserror::Error)]
pub enum HitError {
    /// The `gtag` URL does not parse.
    #[error("the gtag URL {url:?} is not a URL: {source}")]
    Url {
        /// The URL as written.
        url: String,
        /// The parser's error.
        #[source]
        source: url::ParseError,
    },
    /// The gateway refuses the `/g/collect` hit.
    #[error("the gateway refuses the gtag hit: {0}")]
    Ga4(#[from] hermes_gateway::collect::CollectError),
    /// The gateway refuses the `/mp/collect` body.
    #[error("the gateway refuses the Measurement Protocol body: {0}")]
    Mp(String),
}

/// The request and its events, in order.
pub struct ParsedHit {
    /// What request variables read.
    pub request: RequestInfo,
    /// The events the request carries.
    pub events: Vec<Event>,
}

/// Parse the hit as the gateway's `/g/collect` or `/mp/collect` handler would.
pub fn parse(hit: &Hit) -> Result<ParsedHit, HitError> {
    match (&hit.gtag, &hit.mp) {
        (Some(gtag), _) => parse_gtag(hit, gtag),
        (None, mp) => parse_measurement_protocol(hit, mp.as_ref()),
    }
}

fn parse_gtag(hit: &Hit, gtag: &str) -> Result<ParsedHit, HitError> {
    let url = gtag_url(gtag).map_err(|source| HitError::Url {
        url: gtag.to_string(),
        source,
    })?;
    let body = hit.body.as_deref().unwrap_or_default();
    let method = if body.is_empty() { "GET" } else { "POST" };
    let query = url.query().unwrap_or_default();
    let request = request_info(hit, method, url.path(), query);
    let events = parse_ga4(query, body.as_bytes(), &request, &Limits::default())?;
    Ok(ParsedHit { request, events })
}

/// A full URL as written; a relative one (`/g/collect?…`) against a placeholder origin.
fn gtag_url(gtag: &str) -> Result<Url, url::ParseError> {
    Url::parse("http://gateway.invalid/")?.join(gtag)
}

fn parse_measurement_protocol(
    hit: &Hit,
    body: Option<&serde_json::Value>,
) -> Result<ParsedHit, HitError> {
    let body = match body {
        Some(serde_json::Value::String(raw)) => raw.clone(),
        Some(json) => json.to_string(),
        None => String::new(),
    };
    let request = request_info(hit, "POST", "/mp/collect", &hit.query);
    let outcome = parse_mp(
        body.as_bytes(),
        &MpQuery::from_request(&request),
        &request,
        SystemTime::now(),
    );
    if !outcome.is_valid() {
        let messages: Vec<String> = outcome
            .validation
            .validation_messages
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(HitError::Mp(messages.join("; ")));
    }
    Ok(ParsedHit {
        request,
        events: outcome.events,
    })
}

/// The request as the gateway describes it: header names lower-cased, query decoded.
fn request_info(hit: &Hit, method: &str, path: &str, query: &str) -> RequestInfo {
    let headers: Vec<(String, String)> = hit
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect();
    let user_agent = headers
        .iter()
        .find(|(name, _)| name == "user-agent")
        .map(|(_, value)| value.clone());
    RequestInfo {
        method: method.to_string(),
        path: path.to_string(),
        query: form_urlencoded::parse(query.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect(),
        cookies: hit
            .cookies
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        headers,
        client_ip: hit.client_ip,
        user_agent,
    }
}
