//! Answers shared by the handlers: rejections are 4xx JSON with reasons.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::dispatch::DispatchError;

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
