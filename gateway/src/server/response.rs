//! Answers shared by the handlers: rejections are 4xx JSON with reasons.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::dispatch::{DispatchError, DispatchReport, debug_body};

/// The answer once a hit's events were dispatched: the trace in debug mode, else 204
/// (the hit is queued; publishing happens behind the queue); counted per client.
pub(crate) fn dispatched(
    state: &AppState,
    client: &str,
    result: Result<DispatchReport, DispatchError>,
    debug: bool,
) -> Response {
    match result {
        Ok(report) if debug => {
            state.metrics.hit(client, "debug");
            Json(debug_body(&report)).into_response()
        }
        Ok(_) => {
            state.metrics.hit(client, "accepted");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            state.metrics.hit(client, "unavailable");
            dispatch_failed(&error)
        }
    }
}

/// A refused request: status, a short machine reason and what was wrong.
pub(crate) fn reject(status: StatusCode, reason: &str, messages: Vec<String>) -> Response {
    let body = json!({ "error": reason, "reasons": messages });
    (status, Json(body)).into_response()
}

/// The answer when dispatch fails.
pub(crate) fn dispatch_failed(error: &DispatchError) -> Response {
    let (status, reason) = match error {
        DispatchError::NoConfig => (StatusCode::SERVICE_UNAVAILABLE, "no_config"),
        DispatchError::QueueFull { .. } => (StatusCode::SERVICE_UNAVAILABLE, "queue_full"),
    };
    let mut response = reject(status, reason, vec![error.to_string()]);
    response
        .headers_mut()
        .insert("retry-after", axum::http::HeaderValue::from_static("5"));
    response
}

/// Read a body within `limit` bytes; `Err` is a 413 answer naming the limit.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            vec![format!("request body exceeds {limit} bytes")],
        )
    })
}
