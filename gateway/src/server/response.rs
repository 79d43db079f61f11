//! The answer to a hit, and the one place a hit's end is counted and logged: queued is
//! 204 (publishing happens behind the queue), debug mode is the explanation, validation
//! is Google's validation answer, and a refusal is its status with the reasons.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hermes_crds::api::ClientKind;

use super::AppState;
use super::enqueue::Handled;
use super::refusal::Refusal;
use crate::events::HitEnded;
use crate::settings::GatewaySettings;

/// Emit the hit's event and build its answer.
pub(crate) fn answer(
    state: &AppState,
    client: ClientKind,
    result: Result<Handled, Refusal>,
) -> Response {
    let metrics = &state.metrics;
    match result {
        Ok(Handled::Queued { events, messages }) => {
            HitEnded::Accepted { events, messages }.emit(client, metrics);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Handled::Explained(explanation)) => {
            let config_hash = &explanation.config_hash;
            HitEnded::Debugged { config_hash }.emit(client, metrics);
            Json(explanation).into_response()
        }
        Ok(Handled::Validated(validation)) => {
            HitEnded::Validated.emit(client, metrics);
            Json(validation).into_response()
        }
        Err(refusal) => {
            HitEnded::Refused(&refusal).emit(client, metrics);
            refusal.into_response()
        }
    }
}

/// Read a body within the configured size and time: a body over the size is refused
/// (413) as soon as it is, and a client trickling bytes is answered 408 when the read
/// timeout passes, so a slow client holds its worker no longer than that. A body known to
/// be empty (a GET hit, most of them) is not read: no timer is armed for it.
pub(crate) async fn read_body(
    body: axum::body::Body,
    settings: &GatewaySettings,
) -> Result<bytes::Bytes, Refusal> {
    if hyper::body::Body::is_end_stream(&body) {
        return Ok(bytes::Bytes::new());
    }
    let limit = settings.max_body_bytes;
    let timeout = settings.body_read_timeout;
    tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| Refusal::BodyReadTimeout { timeout })?
        .map_err(|_| Refusal::BodyTooLarge { limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime without timers: arming the body read timeout on it panics.
    fn runtime_without_timers() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn a_body_known_to_be_empty_is_taken_as_empty_without_arming_the_read_timeout() {
        let body = runtime_without_timers()
            .block_on(read_body(
                axum::body::Body::empty(),
                &GatewaySettings::default(),
            ))
            .unwrap();
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn a_body_with_bytes_is_read_within_its_limit() {
        let settings = GatewaySettings::default();
        let body = read_body(axum::body::Body::from("en=page_view"), &settings)
            .await
            .unwrap();
        assert_eq!(&body[..], b"en=page_view");
        let over = "x".repeat(settings.max_body_bytes + 1);
        assert!(matches!(
            read_body(axum::body::Body::from(over), &settings).await,
            Err(Refusal::BodyTooLarge { .. })
        ));
    }
}
