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
use crate::collect::parse_ga4_selective;

/// Handle one gtag.js request (one or more events).
pub(crate) async fn collect(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let result = handle(&state, request).await;
    answer(&state, ClientKind::Ga4, result)
}

async fn handle(state: &AppState, request: Request) -> Result<Handled, Refusal> {
    let (mut parts, body) = request.into_parts();
    let (info, debug) = describe(&mut parts, &state.settings);
    let body = read_body(body, &state.settings).await?;
    let limits = &state.settings.limits;
    // One config for the whole hit: the one that says which events need their data is
    // the one they are evaluated against. A traced hit (debug mode, an open preview
    // session) shows every event's data; otherwise an event no tag can fire on is kept
    // as its name alone. The session is looked up once (with none open, one atomic
    // load): one opened while this hit is parsed does not get it with name-only events.
    let config = state.config.current();
    let preview = state.preview.session_for(&info);
    let traced = debug || preview.is_some();
    let needs_data = |name: &str| {
        traced
            || config
                .as_ref()
                .is_none_or(|config| config.may_fire_for(name))
    };
    let mut events = parse_ga4_selective(info.query.raw(), &body, &info, limits, &needs_data)?;
    if state.settings.truncate_ip {
        truncate_ip_overrides(&mut events);
    }
    fire_and_enqueue(state, config, &events, &info, debug, preview).await
}
