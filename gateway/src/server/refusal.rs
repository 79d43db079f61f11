//! Why a hit is refused: the one list of refusals, each with its HTTP status, its short
//! machine reason (the answer's `error` and the `outcome` label of
//! `hermes_gateway_hits_total`) and what was wrong.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::collect::{CollectError, ValidationMessage};

/// A refused hit. 4xx: the client's request is wrong and retrying it will not help;
/// 503 (with `Retry-After`): the gateway cannot take it now.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The body is over the configured limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The body did not arrive within the read timeout (a slow or stalled client).
    #[error("the request body did not arrive within {timeout:?}")]
    BodyReadTimeout { timeout: std::time::Duration },
    /// A `/g/collect` hit the GA4 parser refused.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// Measurement Protocol without a stream id.
    #[error("measurement_id (or firebase_app_id) query parameter is required")]
    MissingMeasurementId,
    /// Measurement Protocol without `api_secret`.
    #[error("api_secret query parameter is required")]
    MissingApiSecret,
    /// An `api_secret` not configured for the stream.
    #[error("api_secret is not valid for {stream}")]
    InvalidApiSecret { stream: String },
    /// A Measurement Protocol body that breaks Google's validation rules.
    #[error("the request breaks {} validation rules", messages.len())]
    Invalid { messages: Vec<ValidationMessage> },
    /// No config loaded yet: nothing could be evaluated.
    #[error("the gateway has not loaded a config yet")]
    NoConfig,
    /// The publish queue is full (or closing); the client should retry later.
    #[error("the publish queue is full ({queued} messages queued); retry later")]
    QueueFull {
        /// Messages waiting when this hit's message was refused.
        queued: usize,
    },
}

impl Refusal {
    /// The short machine reason, e.g. `body_too_large`.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Refusal::BodyTooLarge { .. } => "body_too_large",
            Refusal::BodyReadTimeout { .. } => "body_read_timeout",
            Refusal::Collect(error) => error.reason(),
            Refusal::MissingMeasurementId => "missing_measurement_id",
            Refusal::MissingApiSecret => "missing_api_secret",
            Refusal::InvalidApiSecret { .. } => "invalid_api_secret",
            Refusal::Invalid { .. } => "invalid",
            Refusal::NoConfig => "no_config",
            Refusal::QueueFull { .. } => "queue_full",
        }
    }

    /// The answer's status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Refusal::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyReadTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Refusal::Collect(_) | Refusal::MissingMeasurementId | Refusal::Invalid { .. } => {
                StatusCode::BAD_REQUEST
            }
            Refusal::MissingApiSecret => StatusCode::UNAUTHORIZED,
            Refusal::InvalidApiSecret { .. } => StatusCode::FORBIDDEN,
            Refusal::NoConfig | Refusal::QueueFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for Refusal {
    /// `{"error": reason, "reasons": [...]}`; an invalid Measurement Protocol body also
    /// gets Google's `validationMessages`.
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Refusal::Invalid { messages } => json!({
                "error": self.reason(),
                "reasons": messages.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "validationMessages": messages,
            }),
            _ => json!({ "error": self.reason(), "reasons": [self.to_string()] }),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_refusals_ask_to_retry_and_client_errors_do_not() {
        let response = Refusal::QueueFull { queued: 3 }.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let response = Refusal::MissingApiSecret.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn a_parser_refusal_keeps_the_parser_reason() {
        let refusal = Refusal::from(CollectError::MissingVersion);
        assert_eq!(refusal.reason(), "missing_version");
        assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
    }
}
