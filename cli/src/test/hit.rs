//! A test's hit → the request description and events, through the gateway's own parsers
//! (`parse_ga4`, `parse_mp`), so a test sees what the gateway would.

use std::time::SystemTime;

use hermes_gateway::collect::{Limits, MpQuery, parse_ga4, parse_mp};
use hermes_gateway::event::{Event, Headers, InvalidHeader, RequestInfo};
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
    /// A header of the hit is no HTTP header (its name or value), which no request can
    /// carry.
    #[error(transparent)]
    Header(#[from] InvalidHeader),
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
    let request = request_info(hit, method, url.path(), query)?;
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
    let request = request_info(hit, "POST", "/mp/collect", &hit.query)?;
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

/// The request as the gateway describes it: headers as received, query decoded. The
/// hit's `cookies`, when it lists any, stand for its `Cookie` header (values as written,
/// decoded); otherwise a `Cookie` header's cookies are read as the gateway reads them.
fn request_info(hit: &Hit, method: &str, path: &str, query: &str) -> Result<RequestInfo, HitError> {
    let mut headers = Headers::try_from_pairs(&hit.headers)?;
    if !hit.cookies.is_empty() {
        headers = headers.with_cookies(
            hit.cookies
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        );
    }
    Ok(RequestInfo {
        method: method.to_string(),
        path: path.to_string(),
        query: form_urlencoded::parse(query.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect(),
        headers,
        client_ip: hit.client_ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtag_hit(yaml: &str) -> Hit {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn a_header_no_request_can_carry_is_named_in_the_error() {
        let hit =
            gtag_hit("gtag: /g/collect?v=2&tid=G-1&en=page_view\nheaders: {\"x bad\": \"1\"}\n");
        let error = parse(&hit)
            .err()
            .expect("an invalid header name is refused");
        assert!(
            matches!(&error, HitError::Header(InvalidHeader { name, .. }) if name == "x bad"),
            "{error}"
        );
    }

    #[test]
    fn cookies_come_from_the_listed_cookies_or_else_from_the_cookie_header() {
        let listed = gtag_hit(
            "gtag: /g/collect?v=2&tid=G-1&en=page_view\n\
             headers: {Cookie: \"_ga=GA1.1.1.1\", User-Agent: shop/1}\n\
             cookies: {_ga: GA1.1.2.2}\n",
        );
        let request = parse(&listed).unwrap().request;
        assert_eq!(request.cookie("_ga").as_deref(), Some("GA1.1.2.2"));
        assert_eq!(request.user_agent(), Some("shop/1"));
        let header_only = gtag_hit(
            "gtag: /g/collect?v=2&tid=G-1&en=page_view\n\
             headers: {Cookie: \"_ga=GA1.1.1.1; theme=dark%20mode\"}\n",
        );
        let request = parse(&header_only).unwrap().request;
        assert_eq!(request.cookie("_ga").as_deref(), Some("GA1.1.1.1"));
        assert_eq!(request.cookie("theme").as_deref(), Some("dark mode"));
    }
}
