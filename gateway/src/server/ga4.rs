//! `GET`/`POST /g/collect`: gtag.js hits. Answers 204 at once; publishing happens
//! behind the queue.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::dispatch::{debug_body, dispatch};
use super::request::request_info;
use super::response::{dispatch_failed, read_body, reject};
use crate::collect::parse_ga4;
use crate::settings::DEBUG_HEADER;

const CLIENT: &str = "ga4";

/// Handle one gtag.js request (one or more events).
pub(crate) async fn collect(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let info = request_info(
        &parts.method,
        &parts.uri,
        &parts.headers,
        peer,
        &state.settings.trusted_proxies,
    );
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
    let debug = state.settings.debug_allowed(
        parts
            .headers
            .get(DEBUG_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    match dispatch(&state, &events, &info, debug) {
        Ok(report) if debug => {
            state.metrics.hit(CLIENT, "debug");
            Json(debug_body(&report)).into_response()
        }
        Ok(_) => {
            state.metrics.hit(CLIENT, "accepted");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            state.metrics.hit(CLIENT, "unavailable");
            dispatch_failed(&error)
        }
    }
}
