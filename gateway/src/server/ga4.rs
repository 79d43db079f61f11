//! `GET`/`POST /g/collect`: gtag.js hits. Answers 204 at once; publishing happens
//! behind the queue.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use hermes_crds::api::ClientKind;

use super::AppState;
use super::enqueue::{Handled, fire_and_enqueue};
use super::privacy::truncate_ip_overrides;
use super::refusal::Refusal;
use super::request::describe;
use super::response::{answer, read_body};
use crate::collect::{parse_ga4, parse_ga4_decoded};

/// Handle one gtag.js request (one or more events).
pub(crate) async fn collect(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let result = handle(&state, request).await;
    answer(&state, ClientKind::Ga4, result)
}

async fn handle(state: &AppState, request: Request) -> Result<Handled, Refusal> {
    let (parts, body) = request.into_parts();
    let (info, debug) = describe(&parts, &state.settings);
    let body = read_body(body, &state.settings).await?;
    let query = parts.uri.query().unwrap_or("");
    let limits = &state.settings.limits;
    // `info` holds the query decoded; only a query that itself starts with `?` (which
    // `parse_ga4` strips) is decoded again.
    let mut events = if query.starts_with('?') {
        parse_ga4(query, &body, &info, limits)?
    } else {
        parse_ga4_decoded(&info.query, &body, &info, limits)?
    };
    if state.settings.truncate_ip {
        truncate_ip_overrides(&mut events);
    }
    fire_and_enqueue(state, &events, &info, debug).await
}
