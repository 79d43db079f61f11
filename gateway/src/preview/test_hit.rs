//! "Send a test hit": a gtag query string (and optional body lines) or a Measurement
//! Protocol JSON body, evaluated as the collect endpoints would, traced and never
//! published. The answer is the traced hit; it also joins the caller's session, if open.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::hit::PreviewHit;
use super::routes::current_session;
use crate::collect::{CollectError, MpQuery, ValidationMessage, parse_ga4, parse_mp};
use crate::event::{Event, RequestInfo};
use crate::fire;
use crate::server::AppState;
use crate::server::request::request_info;

/// A test hit as the form sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestHit {
    /// `ga4` (gtag.js, `/g/collect`) or `mp` (Measurement Protocol, `/mp/collect`).
    pub client: String,
    /// The query string (`v=2&tid=…&en=…` for gtag; `measurement_id=…` for MP).
    #[serde(default)]
    pub query: String,
    /// gtag's body lines, or the MP JSON.
    #[serde(default)]
    pub body: String,
}

/// Why a test hit was not evaluated.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TestHitError {
    #[error("unknown client {0:?}: use \"ga4\" or \"mp\"")]
    UnknownClient(String),
    #[error("the query string is not valid in a URL: {0}")]
    Query(#[source] axum::http::uri::InvalidUri),
    #[error("the gtag hit was refused: {0}")]
    Ga4(#[source] CollectError),
    #[error("the Measurement Protocol hit is invalid: {}", describe(.0))]
    Mp(Vec<ValidationMessage>),
    #[error("no config is loaded yet")]
    NoConfig,
}

fn describe(messages: &[ValidationMessage]) -> String {
    serde_json::to_string(messages).unwrap_or_default()
}

impl IntoResponse for TestHitError {
    fn into_response(self) -> Response {
        let status = match self {
            TestHitError::NoConfig => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({"error": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// `POST /preview/test-hit`.
pub(crate) async fn send(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(hit): Json<TestHit>,
) -> Result<Json<PreviewHit>, TestHitError> {
    let (path, events, request) = parse(&state, &headers, &hit)?;
    let config = state.config.current().ok_or(TestHitError::NoConfig)?;
    let traces = events
        .iter()
        .enumerate()
        .filter_map(|(index, event)| fire::evaluate(&config, event, &request, index, true).trace)
        .collect();
    let session = current_session(&state, &headers);
    let sequence = session.as_ref().map_or(0, |s| s.next_sequence());
    let traced = PreviewHit::new(sequence, &format!("test hit {path}"), true, 0, traces);
    if let Some(session) = session {
        session.record(traced.clone());
    }
    Ok(Json(traced))
}

fn parse(
    state: &AppState,
    headers: &HeaderMap,
    hit: &TestHit,
) -> Result<(&'static str, Vec<Event>, RequestInfo), TestHitError> {
    let query = hit.query.trim().trim_start_matches('?');
    let path = match hit.client.as_str() {
        "ga4" => "/g/collect",
        "mp" => "/mp/collect",
        other => return Err(TestHitError::UnknownClient(other.to_string())),
    };
    let uri: Uri = format!("{path}?{query}")
        .parse()
        .map_err(TestHitError::Query)?;
    let request = request_info(&Method::POST, &uri, headers.clone(), None, &[]);
    let events = if path == "/g/collect" {
        parse_ga4(query, hit.body.as_bytes(), &request, &state.settings.limits)
            .map_err(TestHitError::Ga4)?
    } else {
        let outcome = parse_mp(
            hit.body.as_bytes(),
            &MpQuery::from_request(&request),
            &request,
            SystemTime::now(),
        );
        if !outcome.is_valid() {
            return Err(TestHitError::Mp(outcome.validation.validation_messages));
        }
        outcome.events
    };
    Ok((path, events, request))
}
