//! The router with a recording publisher: status codes, CORS, debug gating, overload.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prometheus_client::registry::Registry;
use serde_json::Value;
use tower::ServiceExt;

use super::{AppState, app};
use crate::config_source::{ConfigSink, ConfigStore, manifests};
use crate::metrics::Metrics;
use crate::publish::{Publisher, RecordingPublisher};
use crate::settings::GatewaySettings;

const LOW_STOCK: &str = "/g/collect?v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10";

fn state(publisher: Arc<dyn Publisher>, load_examples: bool) -> Arc<AppState> {
    let settings = GatewaySettings {
        debug_token: Some("token".into()),
        allowed_origins: vec!["https://shop.example".into()],
        max_body_bytes: 1024,
        ..Default::default()
    };
    state_with(publisher, load_examples, settings)
}

fn state_with(
    publisher: Arc<dyn Publisher>,
    load_examples: bool,
    settings: GatewaySettings,
) -> Arc<AppState> {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let store = Arc::new(ConfigStore::new(metrics.clone()));
    if load_examples {
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let (config, problems) = manifests::compile_manifests(&[examples], "test").unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        store.offer(config).unwrap();
    }
    Arc::new(AppState {
        config: store,
        publisher,
        settings,
        metrics,
        registry: Arc::new(registry),
        preview: Arc::default(),
        draining: Default::default(),
    })
}

async fn send(
    state: Arc<AppState>,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app(state).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn browser_hits_get_204_with_credentialed_cors_for_allowed_origins_only_and_no_grant_without_one()
 {
    let recorder = Arc::new(RecordingPublisher::new());
    let state = state(recorder.clone(), true);
    let request = Request::get(LOW_STOCK)
        .header(header::ORIGIN, "https://shop.example")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(state.clone(), request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(recorder.messages().len(), 1);

    let other = Request::get(LOW_STOCK)
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(state.clone(), other).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));

    let (status, headers, _) = send(state.clone(), get(LOW_STOCK)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));

    let preflight = Request::options("/g/collect")
        .header(header::ORIGIN, "https://shop.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(state, preflight).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
}

#[tokio::test]
async fn the_debug_header_does_nothing_without_the_right_token() {
    let recorder = Arc::new(RecordingPublisher::new());
    let state = state(recorder.clone(), true);
    let wrong = Request::get(LOW_STOCK)
        .header("x-hermes-debug", "guess")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(state.clone(), wrong).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(recorder.take().len(), 1);

    let right = Request::get(LOW_STOCK)
        .header("x-hermes-debug", "token")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(state, right).await;
    assert_eq!(status, StatusCode::OK);
    let trace: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(trace["messages"], 1);
    assert_eq!(trace["events"][0]["eventData"]["sku"], "BOWL-10");
    assert!(
        recorder.messages().is_empty(),
        "debug mode publishes nothing"
    );
}

#[tokio::test]
async fn a_gateway_without_config_is_not_ready_and_answers_503_with_retry_after() {
    let state = state(Arc::new(RecordingPublisher::new()), false);
    let (status, _, body) = send(state.clone(), get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("\"configHash\":null"), "{body}");
    let (status, headers, body) = send(state, get(LOW_STOCK)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "5");
    assert!(body.contains("no_config"), "{body}");
}

#[tokio::test]
async fn a_draining_gateway_is_not_ready_but_still_accepts_hits() {
    let state = state(Arc::new(RecordingPublisher::new()), true);
    let (status, _, _) = send(state.clone(), get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    state.draining.start();
    let (status, _, body) = send(state.clone(), get("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("\"draining\":true"), "{body}");
    let (status, _, _) = send(state, get(LOW_STOCK)).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "hits are served while draining"
    );
}

#[tokio::test]
async fn a_full_publish_queue_is_a_503_and_counted_for_the_tag() {
    let state = state(Arc::new(RecordingPublisher::with_capacity(0)), true);
    let (status, _, body) = send(state.clone(), get(LOW_STOCK)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("queue_full"), "{body}");
    let (_, _, metrics) = send(state, get("/metrics")).await;
    assert!(
        metrics
            .contains("hermes_gateway_tag_messages_not_enqueued_total{tag=\"low-stock-signal\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_and_unknown_paths_404() {
    let state = state(Arc::new(RecordingPublisher::new()), true);
    let big = Request::post("/g/collect?v=2&tid=G-0000")
        .body(Body::from(format!("en=x&ep.a={}", "z".repeat(2000))))
        .unwrap();
    let (status, _, body) = send(state.clone(), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("1024 bytes"), "{body}");
    let (status, _, _) = send(state, get("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn measurement_protocol_needs_a_configured_secret() {
    let state = state(Arc::new(RecordingPublisher::new()), true);
    let body = r#"{"client_id":"1.2","events":[{"name":"purchase","params":{"session_id":"1"}}]}"#;
    let unknown = Request::post("/mp/collect?measurement_id=G-X&api_secret=s")
        .body(Body::from(body))
        .unwrap();
    let (status, _, reply) = send(state.clone(), unknown).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(reply.contains("api_secret is not valid for G-X"), "{reply}");
    let no_stream = Request::post("/mp/collect?api_secret=s")
        .body(Body::from(body))
        .unwrap();
    let (status, _, _) = send(state, no_stream).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn each_hit_is_counted_once_under_the_reason_its_answer_gives() {
    let state = state(Arc::new(RecordingPublisher::new()), true);
    let (status, _, _) = send(state.clone(), get(LOW_STOCK)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let big = Request::post("/g/collect?v=2&tid=G-0000")
        .body(Body::from("z".repeat(2000)))
        .unwrap();
    let (_, _, reply) = send(state.clone(), big).await;
    assert!(reply.contains("\"error\":\"body_too_large\""), "{reply}");
    let no_secret = Request::post("/mp/collect?measurement_id=G-X")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, reply) = send(state.clone(), no_secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.contains("\"error\":\"missing_api_secret\""),
        "{reply}"
    );

    let (_, _, metrics) = send(state, get("/metrics")).await;
    for line in [
        "hermes_gateway_hits_total{client=\"ga4\",outcome=\"accepted\"} 1",
        "hermes_gateway_hits_total{client=\"ga4\",outcome=\"body_too_large\"} 1",
        "hermes_gateway_hits_total{client=\"measurementProtocol\",outcome=\"missing_api_secret\"} 1",
        "hermes_gateway_events_evaluated_total{client=\"ga4\"} 1",
        // The series every accepted hit and every event bump exist from the start.
        "hermes_gateway_hits_total{client=\"measurementProtocol\",outcome=\"accepted\"} 0",
        "hermes_gateway_events_evaluated_total{client=\"measurementProtocol\"} 0",
        "hermes_gateway_tags_fired_total{tag=\"low-stock-signal\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

const SECRET: &str = "pssst-42";
const PEER: &str = "198.51.100.23";

/// Settings with a Measurement Protocol secret for `G-SHOP`.
fn mp_settings() -> GatewaySettings {
    GatewaySettings {
        mp_secrets: GatewaySettings::parse_mp_secrets(&format!("G-SHOP={SECRET}")).unwrap(),
        ..Default::default()
    }
}

/// A purchase whose `coupon` is over Google's 100 characters.
fn purchase_with_long_coupon() -> String {
    serde_json::json!({
        "client_id": "1.2",
        "events": [{"name": "purchase", "params": {
            "session_id": "1", "transaction_id": "T-9", "coupon": "c".repeat(101)
        }}]
    })
    .to_string()
}

fn mp_post(query: &str, body: String) -> Request<Body> {
    let mut request = Request::post(format!("/mp/collect?{query}"))
        .body(Body::from(body))
        .unwrap();
    let peer: std::net::SocketAddr = format!("{PEER}:5555").parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    request
}

#[tokio::test]
async fn an_invalid_parameter_is_dropped_and_counted_unless_the_stream_is_strict() {
    let recorder = Arc::new(RecordingPublisher::new());
    let lenient = state_with(recorder.clone(), true, mp_settings());
    let query = format!("measurement_id=G-SHOP&api_secret={SECRET}");
    let (status, _, _) = send(
        lenient.clone(),
        mp_post(&query, purchase_with_long_coupon()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let published = recorder.take();
    assert_eq!(published.len(), 1);
    let data: Value = serde_json::from_slice(&published[0].record.data).unwrap();
    assert_eq!(data["transaction_id"], "T-9");
    assert!(data.get("coupon").is_none(), "{data}");
    let (_, _, metrics) = send(lenient, get("/metrics")).await;
    let dropped =
        "hermes_gateway_mp_dropped_total{code=\"VALUE_OUT_OF_BOUNDS\",part=\"parameter\"} 1";
    assert!(metrics.contains(dropped), "{metrics}");

    let strict_settings = GatewaySettings {
        mp_strict: crate::settings::MpStrictness {
            all: false,
            ids: ["G-SHOP".to_string()].into(),
        },
        ..mp_settings()
    };
    let strict = state_with(recorder.clone(), true, strict_settings);
    let (status, _, reply) = send(strict, mp_post(&query, purchase_with_long_coupon())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply.contains("VALUE_OUT_OF_BOUNDS"), "{reply}");
    assert!(
        recorder.take().is_empty(),
        "a strict refusal publishes nothing"
    );
}

/// The event data a debug-mode `/g/collect` hit from [`PEER`] shows.
async fn explained_event_data(state: Arc<AppState>, uri: &str) -> Value {
    let mut request = Request::get(uri)
        .header("x-hermes-debug", "token")
        .body(Body::empty())
        .unwrap();
    let peer: std::net::SocketAddr = format!("{PEER}:5555").parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let (status, _, body) = send(state, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let trace: Value = serde_json::from_str(&body).unwrap();
    trace["events"][0]["eventData"].clone()
}

#[tokio::test]
async fn a_traced_hit_shows_the_full_data_of_an_event_no_tag_fires_on() {
    let state = state(Arc::new(RecordingPublisher::new()), true);
    let page_view = "/g/collect?v=2&tid=G-1&cid=1.2&dl=https%3A%2F%2Fshop.example%2F&en=page_view";
    let config = state.config.current().unwrap();
    assert!(
        !config.may_fire_for("page_view"),
        "the examples have no tag for page views"
    );
    let data = explained_event_data(state, page_view).await;
    assert_eq!(data["event_name"], "page_view");
    assert_eq!(data["page_location"], "https://shop.example/");
    assert_eq!(data["client_id"], "1.2");
}

#[tokio::test]
async fn truncate_ip_gives_tags_the_client_ip_without_its_host_part() {
    let settings = GatewaySettings {
        truncate_ip: true,
        debug_token: Some("token".into()),
        ..Default::default()
    };
    let state = state_with(Arc::new(RecordingPublisher::new()), true, settings);
    let from_peer = explained_event_data(state.clone(), LOW_STOCK).await;
    assert_eq!(from_peer["ip_override"], "198.51.100.0", "{from_peer}");
    let set_by_hit =
        explained_event_data(state, &format!("{LOW_STOCK}&_uip=2001:db8:abcd:12::9")).await;
    assert_eq!(set_by_hit["ip_override"], "2001:db8:abcd::", "{set_by_hit}");

    let untouched = state_with(
        Arc::new(RecordingPublisher::new()),
        true,
        GatewaySettings {
            debug_token: Some("token".into()),
            ..Default::default()
        },
    );
    let full = explained_event_data(untouched, LOW_STOCK).await;
    assert_eq!(full["ip_override"], PEER, "{full}");
}

#[test]
fn request_spans_are_layered_only_when_the_log_filter_lets_debug_through() {
    let at = |level| {
        let subscriber = tracing_subscriber::fmt().with_max_level(level).finish();
        tracing::subscriber::with_default(subscriber, super::request_logs_enabled)
    };
    assert!(!at(tracing::Level::INFO), "info (the default): no layer");
    assert!(at(tracing::Level::DEBUG), "debug: spans and response lines");
}
