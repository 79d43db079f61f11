//! The HTTP side: routes, limits, request spans, health, metrics and debug mode. `app(state)` is a
//! plain `Router`, testable with `tower::ServiceExt::oneshot`.

mod enqueue;
mod ga4;
mod health;
mod mp;
mod privacy;
mod refusal;
pub(crate) mod request;
mod response;
mod serve;
mod shutdown;

pub(crate) use refusal::Refusal;
pub use serve::{DRAIN_TIMEOUT, serve};
pub use shutdown::{Draining, drain_after};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::{get, post};
use prometheus_client::registry::Registry;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

use crate::config_source::ConfigStore;
use crate::metrics::Metrics;
use crate::preview::{self, PreviewRegistry};
use crate::publish::Publisher;
use crate::settings::GatewaySettings;

/// Everything a request handler reads.
pub struct AppState {
    /// The config being served.
    pub config: Arc<ConfigStore>,
    /// Where messages go.
    pub publisher: Arc<dyn Publisher>,
    /// Secrets, limits, debug token.
    pub settings: GatewaySettings,
    /// Hit-path metrics.
    pub metrics: Arc<Metrics>,
    /// Every metric, for `/metrics`.
    pub registry: Arc<Registry>,
    /// Open live-preview sessions (none: the hit path pays one atomic load).
    pub preview: Arc<PreviewRegistry>,
    /// Set on SIGTERM: `/readyz` answers 503 while hits are still served.
    pub draining: Draining,
}

/// The gateway's router.
pub fn app(state: Arc<AppState>) -> Router {
    let allowed = {
        let settings = state.settings.clone();
        move |origin: &HeaderValue| {
            origin
                .to_str()
                .is_ok_and(|origin| settings.origin_allowed(origin))
        }
    };
    let credentials_allowed = allowed.clone();
    // Credentials only for an allowed origin: a response to a request without one (a
    // sendBeacon or image hit, the shop's back end) carries no CORS grant it cannot use.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| allowed(origin)))
        .allow_credentials(AllowCredentials::predicate(move |origin, _| {
            credentials_allowed(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(AllowHeaders::list([
            HeaderName::from_static("content-type"),
            crate::settings::DEBUG_HEADER_NAME,
        ]));
    let browser = Router::new()
        .route("/g/collect", get(ga4::collect).post(ga4::collect))
        .layer(cors);
    let router = Router::new()
        .merge(browser)
        .route("/mp/collect", post(mp::collect))
        .route("/debug/mp/collect", post(mp::debug_collect))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(preview::routes(state.clone()));
    // The spans and response lines are `debug`: when the log filter rules them out (the
    // default, `info`), the layer would only read the clock twice and wrap every body.
    let router = if request_logs_enabled() {
        router.layer(request_spans(state.settings.log_client_ids))
    } else {
        router
    };
    router.with_state(state)
}

/// Whether the log filter (fixed at start) lets request spans or response lines through.
fn request_logs_enabled() -> bool {
    tracing::span_enabled!(Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_response", Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_failure", Level::DEBUG)
}

/// A `debug` span per request with its status and latency at `debug`: nothing is
/// formatted unless debug logging is on, so the hot path pays only the level check. 5xx
/// answers are refusals the hit's own event counts and logs, so here they are debug lines
/// too. The span names the client (its address and `X-Forwarded-For`) only when
/// `log_client_ids` is set: by default logs carry no personal data.
fn request_spans(
    log_client_ids: bool,
) -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeRequestSpan> {
    let make_span: MakeRequestSpan = if log_client_ids {
        request_span_with_client
    } else {
        request_span
    };
    TraceLayer::new_for_http()
        .make_span_with(make_span)
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
        .on_failure(DefaultOnFailure::new().level(Level::DEBUG))
}

type MakeRequestSpan = fn(&Request) -> Span;

/// The request's span: method and path, never the query (it can carry an `api_secret`).
fn request_span(request: &Request) -> Span {
    tracing::debug_span!("request", method = %request.method(), path = request.uri().path())
}

/// The request's span with the client's address and `X-Forwarded-For` (`--log-client-ids`).
fn request_span_with_client(request: &Request) -> Span {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        peer = ?peer,
        forwarded_for = forwarded,
    )
}

#[cfg(test)]
mod tests;
