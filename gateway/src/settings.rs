//! Gateway settings that are not resource config: secrets, debug token, proxies, limits.

use std::collections::HashMap;

use crate::collect::{Cidr, Limits};

/// How the gateway treats requests. Built by `main` from flags and environment.
#[derive(Debug, Clone, Default)]
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
}

/// The request header carrying the debug token.
pub const DEBUG_HEADER: &str = "x-hermes-debug";

/// Default largest body: gtag.js batches stay far below; MP requests are ≤ 130 kB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

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
