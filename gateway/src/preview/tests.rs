//! The preview through the gateway's router: the token gate, sessions isolated from each
//! other, dry run, the bounded ring and test hits.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{PreviewRegistry, PreviewSettings, SESSION_COOKIE};
use crate::config_source::{ConfigSink, ConfigStore, manifests};
use crate::metrics::Metrics;
use crate::publish::RecordingPublisher;
use crate::server::{AppState, app};
use crate::settings::GatewaySettings;

const TOKEN: &str = "preview-token";
const LOW_STOCK: &str = "/g/collect?v=2&tid=G-0000&cid=555.1&en=LowStock&ep.sku=BOWL-10";
const MP_SECRET: &str = "shop-secret";

fn state(recorder: Arc<RecordingPublisher>, hits_per_session: usize) -> Arc<AppState> {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let store = Arc::new(ConfigStore::new(metrics.clone()));
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let (config, problems) = manifests::compile_manifests(&[examples], "test").unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    store.offer(config).unwrap();
    Arc::new(AppState {
        config: store,
        publisher: recorder,
        settings: GatewaySettings {
            debug_token: Some(TOKEN.into()),
            max_body_bytes: 4096,
            mp_secrets: GatewaySettings::parse_mp_secrets(&format!("G-SHOP={MP_SECRET}")).unwrap(),
            ..Default::default()
        },
        metrics,
        registry: Arc::new(registry),
        preview: Arc::new(PreviewRegistry::new(PreviewSettings {
            hits_per_session,
            ..Default::default()
        })),
        draining: Default::default(),
    })
}

async fn send(state: &Arc<AppState>, request: Request<Body>) -> Response {
    app(state.clone()).oneshot(request).await.unwrap()
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn authorized(method: &str, uri: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Start a session; its id, from the cookie the gateway set.
async fn start(state: &Arc<AppState>, dry_run: bool) -> String {
    let response = send(
        state,
        authorized("POST", "/preview/session", json!({"dryRun": dry_run})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let id = cookie
        .strip_prefix(&format!("{SESSION_COOKIE}="))
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_string();
    let body: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["sessionId"], id.as_str());
    id
}

fn hit_with_cookie(uri: &str, session: &str) -> Request<Body> {
    Request::get(uri)
        .header(
            header::COOKIE,
            format!("_ga=GA1.1.9.9; {SESSION_COOKIE}={session}"),
        )
        .body(Body::empty())
        .unwrap()
}

fn kept(state: &AppState, session: &str) -> Vec<Arc<super::PreviewHit>> {
    state.preview.find(session).unwrap().subscribe().0
}

#[tokio::test]
async fn without_the_token_page_stream_and_session_are_401_revealing_nothing() {
    let state = state(Arc::new(RecordingPublisher::new()), 10);
    for (method, uri) in [
        ("GET", "/preview"),
        ("GET", "/preview/stream"),
        ("GET", "/preview/preview.js"),
        ("POST", "/preview/session"),
        ("POST", "/preview/test-hit"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, "Bearer wrong")
            .body(Body::empty())
            .unwrap();
        let response = send(&state, request).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {uri}"
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(text(response).await, "", "{method} {uri}");
    }
    let page = send(&state, authorized("GET", "/preview", Value::Null)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(text(page).await.contains("Hermes preview"));
}

#[tokio::test]
async fn a_sessions_hits_are_traced_and_published_and_other_sessions_never_see_them() {
    let recorder = Arc::new(RecordingPublisher::new());
    let state = state(recorder.clone(), 10);
    let mine = start(&state, false).await;
    let theirs = start(&state, false).await;
    let response = send(&state, hit_with_cookie(LOW_STOCK, &mine)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // A hit with no session is published and kept nowhere.
    send(&state, Request::get(LOW_STOCK).body(Body::empty()).unwrap()).await;
    assert_eq!(
        recorder.messages().len(),
        2,
        "preview does not stop publishing"
    );

    let hits = kept(&state, &mine);
    assert_eq!(hits.len(), 1);
    let event = &hits[0].events[0];
    assert_eq!(event.event_name, "LowStock");
    assert_eq!(event.event_data["client_id"], "555.1");
    let tag = event.tags.iter().find(|t| t.fired).unwrap();
    assert_eq!(
        tag.messages[0].topic,
        "projects/hermes-local/topics/low-stock"
    );
    assert!(event.triggers.iter().any(|t| t.fired));
    assert_eq!(hits[0].published, 1);
    assert!(
        kept(&state, &theirs).is_empty(),
        "another session's hit showed"
    );
}

#[tokio::test]
async fn the_header_form_of_the_session_id_traces_too() {
    let state = state(Arc::new(RecordingPublisher::new()), 10);
    let session = start(&state, false).await;
    let request = Request::get(LOW_STOCK)
        .header(super::SESSION_HEADER, &session)
        .body(Body::empty())
        .unwrap();
    send(&state, request).await;
    assert_eq!(kept(&state, &session).len(), 1);
}

#[tokio::test]
async fn a_measurement_protocol_hit_of_a_session_is_traced_with_its_data() {
    let recorder = Arc::new(RecordingPublisher::new());
    let state = state(recorder.clone(), 10);
    let session = start(&state, false).await;
    let purchase = json!({"client_id": "1.2", "events": [{"name": "purchase", "params": {
        "session_id": "1", "transaction_id": "MP-1", "currency": "EUR", "value": 99.9,
        "items": [{"item_id": "BOWL-10", "price": 33.3, "quantity": 3}]
    }}]});
    let request = Request::post(format!(
        "/mp/collect?measurement_id=G-SHOP&api_secret={MP_SECRET}"
    ))
    .header(super::SESSION_HEADER, &session)
    .body(Body::from(purchase.to_string()))
    .unwrap();
    assert_eq!(send(&state, request).await.status(), StatusCode::NO_CONTENT);
    let hits = kept(&state, &session);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "/mp/collect");
    let event = &hits[0].events[0];
    assert_eq!(event.event_name, "purchase");
    assert_eq!(event.event_data["transaction_id"], "MP-1");
    let fired = event.tags.iter().filter(|t| t.fired).count();
    assert!(fired > 0, "{:?}", event.tags);
    assert_eq!(hits[0].published, recorder.messages().len());
}

#[tokio::test]
async fn dry_run_traces_without_publishing_and_can_be_switched_off() {
    let recorder = Arc::new(RecordingPublisher::new());
    let state = state(recorder.clone(), 10);
    let session = start(&state, true).await;
    send(&state, hit_with_cookie(LOW_STOCK, &session)).await;
    assert!(recorder.messages().is_empty());
    let hits = kept(&state, &session);
    assert!(hits[0].dry_run);
    assert_eq!(hits[0].events[0].tags.iter().filter(|t| t.fired).count(), 1);

    let mut switch = authorized("PUT", "/preview/session", json!({"dryRun": false}));
    switch.headers_mut().insert(
        header::COOKIE,
        format!("{SESSION_COOKIE}={session}").parse().unwrap(),
    );
    assert_eq!(send(&state, switch).await.status(), StatusCode::OK);
    send(&state, hit_with_cookie(LOW_STOCK, &session)).await;
    assert_eq!(recorder.messages().len(), 1);
}

#[tokio::test]
async fn the_ring_keeps_only_the_newest_hits() {
    let state = state(Arc::new(RecordingPublisher::new()), 3);
    let session = start(&state, true).await;
    for _ in 0..5 {
        send(&state, hit_with_cookie(LOW_STOCK, &session)).await;
    }
    let sequences: Vec<u64> = kept(&state, &session).iter().map(|h| h.sequence).collect();
    assert_eq!(sequences, vec![3, 4, 5]);
}

#[tokio::test]
async fn a_test_hit_is_explained_and_never_published() {
    let recorder = Arc::new(RecordingPublisher::new());
    let state = state(recorder.clone(), 10);
    let request = authorized(
        "POST",
        "/preview/test-hit",
        json!({"client": "ga4", "query": "v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10"}),
    );
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let hit: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(hit["dryRun"], true);
    assert_eq!(hit["events"][0]["eventName"], "LowStock");
    assert!(recorder.messages().is_empty());

    let bad = authorized(
        "POST",
        "/preview/test-hit",
        json!({"client": "mp", "body": "{"}),
    );
    let response = send(&state, bad).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(text(response).await.contains("invalid"));
}

#[test]
fn no_open_session_means_no_lookup() {
    let registry = PreviewRegistry::default();
    let request = crate::event::RequestInfo {
        headers: [("cookie", format!("{SESSION_COOKIE}=anything"))]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    assert!(registry.session_for(&request).is_none());
}

#[tokio::test]
async fn the_stream_replays_the_kept_hits_and_needs_an_open_session() {
    use futures::StreamExt;

    let state = state(Arc::new(RecordingPublisher::new()), 10);
    let no_session = send(&state, authorized("GET", "/preview/stream", Value::Null)).await;
    assert_eq!(no_session.status(), StatusCode::NOT_FOUND);

    let session = start(&state, true).await;
    send(&state, hit_with_cookie(LOW_STOCK, &session)).await;
    let mut request = authorized("GET", "/preview/stream", Value::Null);
    request.headers_mut().insert(
        header::COOKIE,
        format!("{SESSION_COOKIE}={session}").parse().unwrap(),
    );
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut frames = response.into_body().into_data_stream();
    let first = frames.next().await.unwrap().unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(first.starts_with("event: hit\n"), "{first}");
    assert!(first.contains("\"eventName\":\"LowStock\""), "{first}");
    assert!(first.contains("id: 1\n"), "{first}");
}
