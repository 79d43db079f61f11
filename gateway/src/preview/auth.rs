//! The debug token guards every preview route. A browser types it once, in its own
//! Basic-auth prompt (any user name, the token as password), and sends it with every
//! later request of the page and its stream; `curl` and back ends may send it as
//! `Authorization: Bearer` or in `X-Hermes-Debug`. Without it: 401 and nothing else.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::settings::{DEBUG_HEADER_NAME, GatewaySettings};

/// Whether the request carries the debug token (never, when none is configured).
pub(crate) fn authorized(headers: &HeaderMap, settings: &GatewaySettings) -> bool {
    let given = headers
        .get(DEBUG_HEADER_NAME)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(token_from_authorization)
        });
    settings.debug_allowed(given.as_deref())
}

/// The token of `Bearer TOKEN` or of `Basic base64(user:TOKEN)`.
fn token_from_authorization(value: &str) -> Option<String> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.trim().to_string());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(credentials.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_string())
}

/// The answer without the token: 401 with an empty body, asking the browser for it.
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"hermes preview\"")],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GatewaySettings {
        GatewaySettings {
            debug_token: Some("t0k".into()),
            ..Default::default()
        }
    }

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    #[test]
    fn basic_bearer_and_debug_header_carry_the_token() {
        let basic = format!("Basic {}", STANDARD.encode("anyone:t0k"));
        assert!(authorized(
            &with(header::AUTHORIZATION, &basic),
            &settings()
        ));
        assert!(authorized(
            &with(header::AUTHORIZATION, "Bearer t0k"),
            &settings()
        ));
        assert!(authorized(&with(DEBUG_HEADER_NAME, "t0k"), &settings()));
    }

    #[test]
    fn a_wrong_missing_or_unconfigured_token_is_refused() {
        let wrong = format!("Basic {}", STANDARD.encode("anyone:nope"));
        assert!(!authorized(
            &with(header::AUTHORIZATION, &wrong),
            &settings()
        ));
        assert!(!authorized(&HeaderMap::new(), &settings()));
        assert!(!authorized(
            &with(header::AUTHORIZATION, "Basic !!!"),
            &settings()
        ));
        let off = GatewaySettings::default();
        assert!(!authorized(&with(header::AUTHORIZATION, "Bearer "), &off));
    }
}
