//! The preview's routes, all behind the debug token: the page and its assets, starting,
//! switching and ending a session, the session's live stream and the test-hit form.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::session::Session;
use super::{SESSION_COOKIE, assets, auth, stream, test_hit};
use crate::server::AppState;
use crate::server::request::request_info;

/// The preview's router, to merge into the gateway's.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/preview", get(assets::page))
        .route("/preview/preview.js", get(assets::script))
        .route("/preview/preview.css", get(assets::style))
        .route(
            "/preview/session",
            post(start).put(switch_dry_run).delete(end),
        )
        .route("/preview/stream", get(live))
        .route("/preview/test-hit", post(test_hit::send))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if auth::authorized(request.headers(), &state.settings) {
        next.run(request).await
    } else {
        auth::unauthorized()
    }
}

/// What starting or switching a session takes and answers.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SessionOptions {
    /// Trace without publishing.
    pub dry_run: bool,
}

/// The answer to starting a session; the id is also set as the session cookie.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Started {
    session_id: String,
    expires_in_seconds: u64,
    dry_run: bool,
    /// The header that marks a hit as this session's when no cookie can.
    header: &'static str,
}

async fn start(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    options: Option<Json<SessionOptions>>,
) -> Response {
    let options = options.map(|Json(o)| o).unwrap_or_default();
    let session = state.preview.start(options.dry_run);
    let ttl = state.preview.settings().session_ttl.as_secs();
    let cookie = session_cookie(session.id(), ttl, forwarded_https(&headers));
    let body = Started {
        session_id: session.id().to_string(),
        expires_in_seconds: ttl,
        dry_run: options.dry_run,
        header: super::SESSION_HEADER,
    };
    ([(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

async fn switch_dry_run(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(options): Json<SessionOptions>,
) -> Response {
    let Some(session) = current_session(&state, &headers) else {
        return no_session();
    };
    session.set_dry_run(options.dry_run);
    Json(options).into_response()
}

async fn end(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(session) = current_session(&state, &headers) {
        state.preview.end(session.id());
    }
    let cookie = session_cookie("", 0, forwarded_https(&headers));
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

async fn live(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match current_session(&state, &headers) {
        Some(session) => stream::hits(&session).into_response(),
        None => no_session(),
    }
}

/// The session the request's cookie or header names, if it is open.
pub(crate) fn current_session(state: &AppState, headers: &HeaderMap) -> Option<Arc<Session>> {
    let info = request_info(
        &axum::http::Method::GET,
        &axum::http::Uri::from_static("/preview"),
        headers.clone(),
        None,
        &[],
    );
    state.preview.session_for(&info)
}

fn no_session() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "no open preview session: start one"})),
    )
        .into_response()
}

/// A first-party cookie for the whole gateway (`Path=/`: the collect endpoints read it),
/// out of scripts' reach, sent with same-site requests (`SameSite=Lax`), `Secure` behind
/// a TLS-terminating proxy.
fn session_cookie(id: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    // The id is hex and the rest constant, so the value is always a valid header.
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}
