//! `POST /mp/collect` (Measurement Protocol) and `POST /debug/mp/collect` (Google's
//! validation server: messages only, nothing published, no secret needed).
//!
//! `/mp/collect` answers as Google's collection endpoint does: a request breaking a
//! validation rule is accepted (204), its valid events fire and the invalid parts are
//! dropped, counted and logged. Streams configured strict (`--mp-strict`,
//! `--mp-strict-id`) are refused with 400 and the validation messages instead. One
//! difference from Google on purpose: the `api_secret` is required and checked (401/403),
//! where Google ignores an unknown secret, because here the secret guards the topics.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::response::Response;
use hermes_crds::api::ClientKind;

use super::AppState;
use super::enqueue::{Handled, fire_and_enqueue};
use super::privacy::truncate_ip_overrides;
use super::refusal::Refusal;
use super::request::describe;
use super::response::{answer, read_body};
use crate::collect::{MpOutcome, MpQuery, parse_mp};
use crate::event::RequestInfo;
use crate::events::MpPartDropped;
use crate::settings::GatewaySettings;

const CLIENT: ClientKind = ClientKind::MeasurementProtocol;

/// `/mp/collect`: 204 once queued (the valid remainder of an invalid request, unless its
/// stream is strict: then 400 with Google-style validation messages).
pub(crate) async fn collect(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let result = handle(&state, request).await;
    answer(&state, CLIENT, result)
}

/// `/debug/mp/collect`: the validation messages, as Google's validation server answers.
pub(crate) async fn debug_collect(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    let result = parse(&state, request, false)
        .await
        .map(|(_, outcome, _)| Handled::Validated(outcome.validation));
    answer(&state, CLIENT, result)
}

async fn handle(state: &AppState, request: Request) -> Result<Handled, Refusal> {
    let (info, mut outcome, debug) = parse(state, request, true).await?;
    if !outcome.is_valid() {
        let stream = stream_of(&MpQuery::from_request(&info));
        if state.settings.mp_strict.is_strict(stream) {
            return Err(Refusal::Invalid {
                messages: outcome.validation.validation_messages,
            });
        }
        let stream = stream.unwrap_or_default();
        for (dropped, message) in outcome
            .dropped
            .iter()
            .zip(&outcome.validation.validation_messages)
        {
            MpPartDropped {
                stream,
                dropped,
                message,
            }
            .emit(&state.metrics);
        }
    }
    if state.settings.truncate_ip {
        truncate_ip_overrides(&mut outcome.events);
    }
    let config = state.config.current();
    let preview = state.preview.session_for(&info);
    fire_and_enqueue(state, config, &outcome.events, &info, debug, preview).await
}

/// The stream a request is for: its measurement id, or its Firebase app id.
fn stream_of<'a>(query: &MpQuery<'a>) -> Option<&'a str> {
    query.measurement_id.or(query.firebase_app_id)
}

/// Read and parse a Measurement Protocol request (checking its secret when asked).
async fn parse(
    state: &AppState,
    request: Request,
    check_secret: bool,
) -> Result<(RequestInfo, MpOutcome, bool), Refusal> {
    let (mut parts, body) = request.into_parts();
    let (info, debug) = describe(&mut parts, &state.settings);
    if check_secret {
        check_api_secret(&state.settings, &info)?;
    }
    let body = read_body(body, &state.settings).await?;
    let outcome = parse_mp(
        &body,
        &MpQuery::from_request(&info),
        &info,
        SystemTime::now(),
    );
    Ok((info, outcome, debug))
}

fn check_api_secret(settings: &GatewaySettings, info: &RequestInfo) -> Result<(), Refusal> {
    let query = MpQuery::from_request(info);
    let stream = stream_of(&query).ok_or(Refusal::MissingMeasurementId)?;
    let secret = query.api_secret.ok_or(Refusal::MissingApiSecret)?;
    if !settings.secret_matches(stream, secret) {
        return Err(Refusal::InvalidApiSecret {
            stream: stream.to_string(),
        });
    }
    Ok(())
}
