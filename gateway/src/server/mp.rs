//! `POST /mp/collect` (Measurement Protocol: api_secret checked, Google's validation
//! rules enforced, invalid hits refused with the reasons) and `POST /debug/mp/collect`
//! (Google's validation server: messages only, nothing published, no secret needed).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::response::Response;
use hermes_crds::api::ClientKind;

use super::AppState;
use super::enqueue::{Handled, fire_and_enqueue};
use super::refusal::Refusal;
use super::request::describe;
use super::response::{answer, read_body};
use crate::collect::{MpOutcome, MpQuery, parse_mp};
use crate::event::RequestInfo;
use crate::settings::GatewaySettings;

const CLIENT: ClientKind = ClientKind::MeasurementProtocol;

/// `/mp/collect`: 204 once queued; 400 with Google-style validation messages when invalid.
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
    let (info, outcome, debug) = parse(state, request, true).await?;
    if !outcome.is_valid() {
        return Err(Refusal::Invalid {
            messages: outcome.validation.validation_messages,
        });
    }
    fire_and_enqueue(state, &outcome.events, &info, debug).await
}

/// Read and parse a Measurement Protocol request (checking its secret when asked).
async fn parse(
    state: &AppState,
    request: Request,
    check_secret: bool,
) -> Result<(RequestInfo, MpOutcome, bool), Refusal> {
    let (parts, body) = request.into_parts();
    let (info, debug) = describe(&parts, &state.settings);
    if check_secret {
        check_api_secret(&state.settings, &info)?;
    }
    let body = read_body(body, state.settings.max_body_bytes).await?;
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
    let stream = query
        .measurement_id
        .or(query.firebase_app_id)
        .ok_or(Refusal::MissingMeasurementId)?;
    let secret = query.api_secret.ok_or(Refusal::MissingApiSecret)?;
    if !settings.secret_matches(stream, secret) {
        return Err(Refusal::InvalidApiSecret {
            stream: stream.to_string(),
        });
    }
    Ok(())
}
