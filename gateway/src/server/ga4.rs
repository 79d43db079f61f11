//! `GET`/`POST /g/collect`: gtag.js hits. Answers 204 at once; publishing happens
//! behind the queue.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::AppState;
use super::dispatch::dispatch;
use super::request::describe;
use super::response::{dispatched, read_body, reject};
use crate::collect::parse_ga4;

const CLIENT: &str = "ga4";

/// Handle one gtag.js request (one or more events).
pub(crate) async fn collect(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (info, debug) = describe(&parts, &state.settings);
    let body = match read_body(body, state.settings.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => {
            state.metrics.hit(CLIENT, "too_large");
            return response;
        }
    };
    let query = parts.uri.query().unwrap_or("");
    let events = match parse_ga4(query, &body, &info, &state.settings.limits) {
        Ok(events) => events,
        Err(error) => {
            state.metrics.hit(CLIENT, error.reason());
            return reject(
                StatusCode::BAD_REQUEST,
                error.reason(),
                vec![error.to_string()],
            );
        }
    };
    let result = dispatch(&state, &events, &info, debug);
    dispatched(&state, CLIENT, result, debug)
}
