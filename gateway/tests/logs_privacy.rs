//! What the gateway logs about a request: never the Measurement Protocol `api_secret`
//! (it travels in the query string), and the client's address only with
//! `log_client_ids`. Every log line and span at `trace` is captured while the router
//! handles accepted, dropped and refused requests. One test per process: `tracing`'s
//! callsite cache is global, so a capturing subscriber must not share the process with
//! tests running on other threads.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hermes_gateway::config_source::manifests::compile_manifests;
use hermes_gateway::config_source::{ConfigSink, ConfigStore};
use hermes_gateway::metrics::Metrics;
use hermes_gateway::publish::RecordingPublisher;
use hermes_gateway::server::{AppState, app};
use hermes_gateway::settings::GatewaySettings;
use prometheus_client::registry::Registry;
use tower::ServiceExt;

const SECRET: &str = "pssst-42";
const PEER: &str = "198.51.100.23";

/// A `tracing` writer into a shared buffer, to read what the gateway logged.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn state(log_client_ids: bool) -> Arc<AppState> {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let store = Arc::new(ConfigStore::new(metrics.clone()));
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let (config, _) = compile_manifests(&[examples], "test").unwrap();
    store.offer(config).unwrap();
    Arc::new(AppState {
        config: store,
        publisher: Arc::new(RecordingPublisher::new()),
        settings: GatewaySettings {
            mp_secrets: GatewaySettings::parse_mp_secrets(&format!("G-SHOP={SECRET}")).unwrap(),
            log_client_ids,
            ..Default::default()
        },
        metrics,
        registry: Arc::new(registry),
        preview: Arc::default(),
        draining: Default::default(),
    })
}

fn mp_post(stream: &str, body: &str) -> Request<Body> {
    let uri = format!("/mp/collect?measurement_id={stream}&api_secret={SECRET}");
    let mut request = Request::post(uri)
        .body(Body::from(body.to_string()))
        .unwrap();
    let peer: SocketAddr = format!("{PEER}:5555").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

/// Every log line and span event, at `trace`, of an accepted request with a dropped
/// parameter, an unreadable one, and one refused for its secret.
async fn logs_of(log_client_ids: bool) -> String {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = state(log_client_ids);
    let long_coupon = format!(
        r#"{{"client_id":"1.2","events":[{{"name":"purchase","params":{{"session_id":"1","coupon":"{}"}}}}]}}"#,
        "c".repeat(101)
    );
    for request in [
        mp_post("G-SHOP", &long_coupon),
        mp_post("G-SHOP", "{"),
        mp_post("G-OTHER", &long_coupon),
    ] {
        app(state.clone()).oneshot(request).await.unwrap();
    }
    String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned()
}

#[tokio::test]
async fn logs_never_carry_the_api_secret_nor_by_default_the_client_ip() {
    let logs = logs_of(false).await;
    assert!(logs.contains("measurement protocol part dropped"), "{logs}");
    assert!(logs.contains("hit refused"), "{logs}");
    assert!(logs.contains("request"), "request spans captured: {logs}");
    assert!(!logs.contains(SECRET), "{logs}");
    assert!(!logs.contains(PEER), "{logs}");

    let logs = logs_of(true).await;
    assert!(!logs.contains(SECRET), "{logs}");
    assert!(logs.contains(PEER), "with log_client_ids: {logs}");
}
