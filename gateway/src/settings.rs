//! Gateway settings that are not resource config: secrets, debug token, proxies, limits,
//! Measurement Protocol strictness, privacy switches and request timeouts.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName};

use crate::collect::{Cidr, Limits};

/// How the gateway treats requests. Built by `main` from flags and environment.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Measurement Protocol API secrets per measurement id (or Firebase app id). A hit
    /// for an id without secrets is refused.
    pub mp_secrets: HashMap<String, Vec<String>>,
    /// The token that turns on debug mode for a request (header [`DEBUG_HEADER`]).
    /// `None`: debug mode is off, and the header does nothing.
    pub debug_token: Option<String>,
    /// Proxies whose `X-Forwarded-For` is trusted.
    pub trusted_proxies: Vec<Cidr>,
    /// `/g/collect` limits.
    pub limits: Limits,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Browser origins allowed to send hits with credentials; empty: any origin.
    pub allowed_origins: Vec<String>,
    /// Which `/mp/collect` requests are refused (400) when they break a validation rule;
    /// the others are answered as Google does: accepted, the invalid parts dropped.
    pub mp_strict: MpStrictness,
    /// Zero the host part of the client IP given to tags (`ip_override`), as GA4 does.
    pub truncate_ip: bool,
    /// Whether logs may carry client IPs and client/user ids (off: privacy by default).
    pub log_client_ids: bool,
    /// Longest time to receive a request body once its head is read; a slower client
    /// gets 408 and its worker is freed.
    pub body_read_timeout: Duration,
}

/// Which Measurement Protocol streams are validated strictly (a broken rule refuses the
/// whole request with 400, for back ends whose CI should fail) instead of as Google's
/// collection endpoint does (accept, keep the valid events, drop the rest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MpStrictness {
    /// Every stream is strict.
    pub all: bool,
    /// These measurement ids (or Firebase app ids) are strict.
    pub ids: HashSet<String>,
}

impl MpStrictness {
    /// Whether a request for `stream` is refused when invalid.
    pub fn is_strict(&self, stream: Option<&str>) -> bool {
        self.all || stream.is_some_and(|id| self.ids.contains(id))
    }
}

/// The request header carrying the debug token.
pub const DEBUG_HEADER: &str = "x-hermes-debug";
/// [`DEBUG_HEADER`] as a header name, parsed once: a lookup by a string parses it first.
pub const DEBUG_HEADER_NAME: HeaderName = HeaderName::from_static(DEBUG_HEADER);

/// Default largest body: gtag.js batches stay far below; MP requests are ≤ 130 kB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Default time to read a request's head (request line and headers).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time to read a request's body: a 256 KiB body over a slow mobile link takes
/// well under this.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for GatewaySettings {
    /// The flags' defaults: no secrets, no debug token, lenient Measurement Protocol, no
    /// client ids in logs, IPs untruncated.
    fn default() -> Self {
        GatewaySettings {
            mp_secrets: HashMap::new(),
            debug_token: None,
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allowed_origins: Vec::new(),
            mp_strict: MpStrictness::default(),
            truncate_ip: false,
            log_client_ids: false,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}

impl GatewaySettings {
    /// Whether `secret` is configured for `measurement_id`.
    pub fn secret_matches(&self, measurement_id: &str, secret: &str) -> bool {
        self.mp_secrets
            .get(measurement_id)
            .is_some_and(|secrets| secrets.iter().any(|s| constant_time_eq(s, secret)))
    }

    /// Whether the request's debug header carries the configured token.
    pub fn debug_allowed(&self, header: Option<&str>) -> bool {
        match (&self.debug_token, header) {
            (Some(token), Some(given)) => !token.is_empty() && constant_time_eq(token, given),
            _ => false,
        }
    }

    /// Whether `headers` carry the configured token in [`DEBUG_HEADER`]. Without a token
    /// (most gateways) the header is not even looked up: this runs on every hit.
    pub fn debug_requested(&self, headers: &HeaderMap) -> bool {
        self.debug_token.is_some()
            && self.debug_allowed(headers.get(DEBUG_HEADER_NAME).and_then(|v| v.to_str().ok()))
    }

    /// Whether a browser origin may send hits.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o == origin)
    }

    /// Parse `ID=SECRET[,ID=SECRET…]` (flags and `HERMES_MP_SECRETS`).
    pub fn parse_mp_secrets(text: &str) -> Result<HashMap<String, Vec<String>>, String> {
        let mut secrets: HashMap<String, Vec<String>> = HashMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, secret) = pair
                .split_once('=')
                .filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
                .ok_or_else(|| format!("MP secret {pair:?} is not MEASUREMENT_ID=SECRET"))?;
            secrets
                .entry(id.trim().to_string())
                .or_default()
                .push(secret.trim().to_string());
        }
        Ok(secrets)
    }
}

/// Compare secrets without leaking their length of common prefix through timing.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp_secrets_parse_pairs_and_reject_malformed_ones() {
        let parsed = GatewaySettings::parse_mp_secrets("G-1=a, G-1=b,G-2=c").unwrap();
        assert_eq!(parsed["G-1"], vec!["a", "b"]);
        assert_eq!(parsed["G-2"], vec!["c"]);
        assert!(GatewaySettings::parse_mp_secrets("G-1").is_err());
        assert!(GatewaySettings::parse_mp_secrets("=x").is_err());
    }

    #[test]
    fn secrets_match_only_exactly_and_only_for_their_measurement_id() {
        let settings = GatewaySettings {
            mp_secrets: GatewaySettings::parse_mp_secrets("G-1=secret").unwrap(),
            ..Default::default()
        };
        assert!(settings.secret_matches("G-1", "secret"));
        assert!(!settings.secret_matches("G-1", "secre"));
        assert!(!settings.secret_matches("G-1", "secret2"));
        assert!(!settings.secret_matches("G-2", "secret"));
    }

    #[test]
    fn mp_strictness_applies_to_every_stream_or_only_the_listed_ones() {
        let lenient = MpStrictness::default();
        assert!(!lenient.is_strict(Some("G-1")));
        assert!(!lenient.is_strict(None));
        let listed = MpStrictness {
            all: false,
            ids: HashSet::from(["G-1".to_string()]),
        };
        assert!(listed.is_strict(Some("G-1")));
        assert!(!listed.is_strict(Some("G-2")));
        assert!(!listed.is_strict(None));
        let all = MpStrictness {
            all: true,
            ids: HashSet::new(),
        };
        assert!(all.is_strict(Some("G-2")));
        assert!(all.is_strict(None));
    }

    #[test]
    fn debug_needs_a_configured_token_and_the_same_value() {
        let off = GatewaySettings::default();
        assert!(!off.debug_allowed(Some("")));
        let on = GatewaySettings {
            debug_token: Some("t0k".into()),
            ..Default::default()
        };
        assert!(on.debug_allowed(Some("t0k")));
        assert!(!on.debug_allowed(Some("nope")));
        assert!(!on.debug_allowed(None));
    }
}
