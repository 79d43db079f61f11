//! Turning an HTTP request into [`RequestInfo`]: headers, query, cookies, client IP.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, Uri};

use crate::collect::{Cidr, client_ip, truncate_ip};
use crate::event::{Headers, Query, RequestInfo};
use crate::settings::GatewaySettings;

/// `X-Forwarded-For`, parsed once: looking a header up by a string parses it first.
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// What a handler needs of a request's head: its description for variables (the client
/// IP truncated when so configured, so no tag sees the full address), and whether it
/// asked for debug mode with the configured token. Takes the headers out of `parts`
/// (the description keeps them, uncopied).
pub(crate) fn describe(parts: &mut Parts, settings: &GatewaySettings) -> (RequestInfo, bool) {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let debug = settings.debug_requested(&parts.headers);
    let mut info = request_info(
        &parts.method,
        &parts.uri,
        std::mem::take(&mut parts.headers),
        peer,
        &settings.trusted_proxies,
    );
    if settings.truncate_ip {
        info.client_ip = info.client_ip.map(truncate_ip);
    }
    (info, debug)
}

/// Build the request description variables read. `peer` is the TCP peer.
pub(crate) fn request_info(
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    trusted_proxies: &[Cidr],
) -> RequestInfo {
    let headers = Headers::new(headers);
    let query = uri.query().map(Query::new).unwrap_or_default();
    let client_ip = peer.map(|peer| {
        // Several X-Forwarded-For headers are one list, in order.
        let forwarded: Vec<&str> = headers.get_all(FORWARDED_FOR).collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        client_ip(peer.ip(), forwarded.as_deref(), trusted_proxies)
    });
    RequestInfo {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        client_ip,
        headers,
        query,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    #[test]
    fn request_info_decodes_query_cookies_and_user_agent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "_ga=GA1.1.123.456; theme=dark%20mode".parse().unwrap(),
        );
        headers.insert(header::USER_AGENT, "Mozilla/5.0".parse().unwrap());
        headers.insert("X-Shop-Id", "eu-1".parse().unwrap());
        let uri: Uri = "/g/collect?v=2&tid=G-1&dl=https%3A%2F%2Fshop.example%2F"
            .parse()
            .unwrap();
        let peer: SocketAddr = "203.0.113.9:5555".parse().unwrap();
        let info = request_info(&Method::GET, &uri, headers, Some(peer), &[]);
        assert_eq!(info.path, "/g/collect");
        assert_eq!(info.method, "GET");
        assert_eq!(
            info.query_parameter("dl").as_deref(),
            Some("https://shop.example/")
        );
        assert_eq!(info.cookie("_ga").as_deref(), Some("GA1.1.123.456"));
        assert_eq!(info.cookie("theme").as_deref(), Some("dark mode"));
        assert_eq!(info.header("x-shop-id"), Some("eu-1"));
        assert_eq!(info.user_agent(), Some("Mozilla/5.0"));
        assert_eq!(info.client_ip, Some(peer.ip()));
    }

    #[test]
    fn headers_are_read_in_place_skipping_values_that_are_not_text_and_cookies_span_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            "x-shop-id",
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        headers.append("x-shop-id", "eu-2".parse().unwrap());
        headers.append(header::COOKIE, "_ga=GA1.1.1.2; a=1".parse().unwrap());
        headers.append(header::COOKIE, "theme=dark%20mode".parse().unwrap());
        let uri: Uri = "/g/collect".parse().unwrap();
        let info = request_info(&Method::GET, &uri, headers, None, &[]);
        assert_eq!(
            info.header("X-Shop-Id"),
            Some("eu-2"),
            "the first value that is text, by any case of the name"
        );
        assert_eq!(info.cookie("_ga").as_deref(), Some("GA1.1.1.2"));
        assert_eq!(
            info.cookie("theme").as_deref(),
            Some("dark mode"),
            "from the second header"
        );
        assert_eq!(info.cookie("missing"), None);
        assert_eq!(info.user_agent(), None);
    }

    #[test]
    fn a_cookie_read_alone_is_the_first_of_its_name_that_all_cookies_give() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            " a = 1 ; theme=dark%20mode;broken; a=2".parse().unwrap(),
        );
        headers.append(header::COOKIE, "b=%E2%82%AC; theme=light".parse().unwrap());
        let all = Headers::new(headers.clone()).cookies().to_vec();
        assert_eq!(all.len(), 5, "{all:?}");
        for (name, _) in &all {
            let first = all.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            assert_eq!(
                Headers::new(headers.clone()).cookie(name).as_deref(),
                first,
                "{name}"
            );
        }
        assert_eq!(
            Headers::new(headers).cookie("b").as_deref(),
            Some("\u{20ac}")
        );
    }

    #[test]
    fn repeated_forwarded_headers_are_one_list_trusted_only_from_proxies() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "198.51.100.7".parse().unwrap());
        headers.append("x-forwarded-for", "10.0.0.5".parse().unwrap());
        let uri: Uri = "/g/collect".parse().unwrap();
        let proxy: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let info = request_info(&Method::GET, &uri, headers.clone(), Some(proxy), &trusted);
        assert_eq!(info.client_ip, Some("198.51.100.7".parse().unwrap()));
        let info = request_info(&Method::GET, &uri, headers, Some(proxy), &[]);
        assert_eq!(
            info.client_ip,
            Some(proxy.ip()),
            "untrusted peer: its own address"
        );
    }
}
