//! `POST /mp/collect` (Measurement Protocol: api_secret checked, Google's validation
//! rules enforced, invalid hits refused with the reasons) and `POST /debug/mp/collect`
//! (Google's validation server: messages only, nothing published, no secret needed).

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::dispatch::dispatch;
use super::request::describe;
use super::response::{dispatched, read_body, reject};
use crate::collect::{MpOutcome, MpQuery, parse_mp};
use crate::event::RequestInfo;

const CLIENT: &str = "measurementProtocol";

/// Read and parse a Measurement Protocol request; `Err` is the answer to send.
async fn parse(
    state: &AppState,
    request: Request,
    check_secret: bool,
) -> Result<(RequestInfo, MpOutcome, bool), Response> {
    let (parts, body) = request.into_parts();
    let (info, debug) = describe(&parts, &state.settings);
    if check_secret && let Err(response) = check_api_secret(state, &info) {
        return Err(*response);
    }
    let body = read_body(body, state.settings.max_body_bytes)
        .await
        .inspect_err(|_| state.metrics.hit(CLIENT, "too_large"))?;
    let outcome = parse_mp(
        &body,
        &MpQuery::from_request(&info),
        &info,
        SystemTime::now(),
    );
    Ok((info, outcome, debug))
}

fn check_api_secret(state: &AppState, info: &RequestInfo) -> Result<(), Box<Response>> {
    let query = MpQuery::from_request(info);
    let Some(stream) = query.measurement_id.or(query.firebase_app_id) else {
        state.metrics.hit(CLIENT, "invalid");
        return Err(Box::new(reject(
            StatusCode::BAD_REQUEST,
            "missing_measurement_id",
            vec!["measurement_id (or firebase_app_id) query parameter is required".into()],
        )));
    };
    let Some(secret) = query.api_secret else {
        state.metrics.hit(CLIENT, "unauthorized");
        return Err(Box::new(reject(
            StatusCode::UNAUTHORIZED,
            "missing_api_secret",
            vec!["api_secret query parameter is required".into()],
        )));
    };
    if !state.settings.secret_matches(stream, secret) {
        state.metrics.hit(CLIENT, "forbidden");
        return Err(Box::new(reject(
            StatusCode::FORBIDDEN,
            "invalid_api_secret",
            vec![format!("api_secret is not valid for {stream}")],
        )));
    }
    Ok(())
}

/// `/mp/collect`: 204 once queued; 400 with Google-style validation messages when invalid.
pub(crate) async fn collect(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (info, outcome, debug) = match parse(&state, request, true).await {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    if !outcome.is_valid() {
        state.metrics.hit(CLIENT, "invalid");
        let reasons: Vec<String> = outcome
            .validation
            .validation_messages
            .iter()
            .map(ToString::to_string)
            .collect();
        let body = json!({
            "error": "invalid",
            "reasons": reasons,
            "validationMessages": outcome.validation.validation_messages,
        });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let result = dispatch(&state, &outcome.events, &info, debug);
    dispatched(&state, CLIENT, result, debug)
}

/// `/debug/mp/collect`: the validation messages, as Google's validation server answers.
pub(crate) async fn debug_collect(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    match parse(&state, request, false).await {
        Ok((_, outcome, _)) => {
            state.metrics.hit(CLIENT, "validated");
            Json(outcome.validation).into_response()
        }
        Err(response) => response,
    }
}
