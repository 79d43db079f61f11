//! Turning an HTTP request into [`RequestInfo`]: headers, query, cookies, client IP.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri, header};

use crate::collect::{Cidr, client_ip, truncate_ip};
use crate::event::{Query, RequestInfo};
use crate::settings::{DEBUG_HEADER, GatewaySettings};

/// What a handler needs of a request's head: its description for variables (the client
/// IP truncated when so configured, so no tag sees the full address), and whether it
/// asked for debug mode with the configured token.
pub(crate) fn describe(parts: &Parts, settings: &GatewaySettings) -> (RequestInfo, bool) {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mut info = request_info(
        &parts.method,
        &parts.uri,
        &parts.headers,
        peer,
        &settings.trusted_proxies,
    );
    if settings.truncate_ip {
        info.client_ip = info.client_ip.map(truncate_ip);
    }
    let debug = settings.debug_allowed(
        parts
            .headers
            .get(DEBUG_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    (info, debug)
}

/// Build the request description variables read. `peer` is the TCP peer.
pub(crate) fn request_info(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted_proxies: &[Cidr],
) -> RequestInfo {
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_string(), v.to_string()))
        })
        .collect();
    let query = uri.query().map(Query::new).unwrap_or_default();
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8_lossy()
                .into_owned();
            Some((name.trim().to_string(), value))
        })
        .collect();
    // Several X-Forwarded-For headers are one list, in order.
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
    RequestInfo {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        client_ip: peer.map(|p| client_ip(p.ip(), forwarded.as_deref(), trusted_proxies)),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        headers: header_pairs,
        query,
        cookies,
    }
}

#[cfg(test)]
mod tests {
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
        let info = request_info(&Method::GET, &uri, &headers, Some(peer), &[]);
        assert_eq!(info.path, "/g/collect");
        assert_eq!(info.method, "GET");
        assert_eq!(info.query_parameter("dl"), Some("https://shop.example/"));
        assert_eq!(info.cookie("_ga"), Some("GA1.1.123.456"));
        assert_eq!(info.cookie("theme"), Some("dark mode"));
        assert_eq!(info.header("x-shop-id"), Some("eu-1"));
        assert_eq!(info.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(info.client_ip, Some(peer.ip()));
    }

    #[test]
    fn repeated_forwarded_headers_are_one_list_trusted_only_from_proxies() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "198.51.100.7".parse().unwrap());
        headers.append("x-forwarded-for", "10.0.0.5".parse().unwrap());
        let uri: Uri = "/g/collect".parse().unwrap();
        let proxy: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let info = request_info(&Method::GET, &uri, &headers, Some(proxy), &trusted);
        assert_eq!(info.client_ip, Some("198.51.100.7".parse().unwrap()));
        let info = request_info(&Method::GET, &uri, &headers, Some(proxy), &[]);
        assert_eq!(
            info.client_ip,
            Some(proxy.ip()),
            "untrusted peer: its own address"
        );
    }
}
