//! The gateway binary end to end: `hermes-gateway --manifests examples/` against Google's
//! Pub/Sub emulator, hits sent over HTTP, messages read back through real subscriptions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hermes_tests::gateway_process::GatewayProcess;
use hermes_tests::pubsub::{PubSubEmulator, ReceivedMessage};
use serde_json::{Value, json};

const PROJECT: &str = "hermes-local";
const TOPICS: [&str; 4] = ["promotions", "low-stock", "purchases", "cart-activity"];
const MP_SECRET: &str = "s3cret";
const DEBUG_TOKEN: &str = "let-me-see";
const DELIVERY: Duration = Duration::from_secs(30);
/// How long to wait before concluding that nothing was published.
const QUIET: Duration = Duration::from_secs(3);

/// A gateway serving `examples/`, publishing to its own emulator.
struct Harness {
    emulator: PubSubEmulator,
    gateway: GatewayProcess,
    base: String,
    http: reqwest::Client,
}

fn subscription(topic: &str) -> String {
    format!("projects/{PROJECT}/subscriptions/{topic}-test")
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(&[]).await
    }

    /// A gateway started with these extra flags.
    async fn start_with(flags: &[&str]) -> Harness {
        let emulator = PubSubEmulator::start().await.expect("emulator starts");
        emulator
            .create_topics_with_subscriptions(PROJECT, &TOPICS, "test")
            .await
            .expect("topics and subscriptions created");
        let gateway = GatewayProcess::builder()
            .examples()
            .pubsub(emulator.host_port())
            .args(["--mp-secret", &format!("G-SHOP={MP_SECRET}")])
            .args(["--debug-token", DEBUG_TOKEN])
            .args(flags)
            .start()
            .await
            .expect("gateway becomes ready");
        Harness {
            base: gateway.url(),
            emulator,
            gateway,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn post(
        &self,
        path_and_query: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path_and_query}", self.base))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn messages(&self, topic: &str, n: usize) -> Vec<ReceivedMessage> {
        self.emulator
            .pull(&subscription(topic), n, DELIVERY)
            .await
            .unwrap()
    }

    async fn nothing_on(&self, topic: &str) {
        let got = self
            .emulator
            .pull(&subscription(topic), 1, QUIET)
            .await
            .unwrap();
        assert!(
            got.is_empty(),
            "expected nothing on {topic}, got {:?}",
            texts(&got)
        );
    }

    async fn stop(mut self) {
        self.gateway.process.kill().await;
    }
}

fn json_of(message: &ReceivedMessage) -> Value {
    serde_json::from_slice(&message.data).unwrap()
}

fn texts(messages: &[ReceivedMessage]) -> Vec<String> {
    messages.iter().map(ReceivedMessage::text).collect()
}

/// A gtag.js ecommerce purchase: two items, the second with a promotion.
const PURCHASE_WITH_PROMOTION: &str = "/g/collect?v=2&tid=G-0000&gtm=45je4bn0v9&_p=1732890000123\
&cid=1234567890.1732880000&ul=en-us&sr=1920x1080&_s=4&sid=1732889000&sct=3&seg=1\
&dl=https%3A%2F%2Fshop.example%2Fcheckout%2Fdone&dt=Thank%20you&en=purchase&cu=EUR\
&ep.transaction_id=T-1001&epn.value=42.5&epn.tax=7.1\
&pr1=idPLATE-99~nmDinner%20Plate~brAcme~caTableware~pr12.5~qt2\
&pr2=idSPOON-3~nmSpoon~pr17.5~qt1~piSUMMER24~pnSummer%20Sale~cpWELCOME";

#[tokio::test]
async fn bare_low_stock_hit_publishes_one_message_with_its_sku() {
    let h = Harness::start().await;
    let response = h
        .get("/g/collect?v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10")
        .await;
    assert_eq!(response.status(), 204);
    let got = h.messages("low-stock", 2).await;
    assert_eq!(got.len(), 1, "{:?}", texts(&got));
    assert_eq!(
        json_of(&got[0]),
        json!({"sku": "BOWL-10", "source": "signal"})
    );
    assert_eq!(got[0].attributes["hermes_tag"], "low-stock-signal");
    assert_eq!(got[0].attributes["hermes_event_name"], "LowStock");
    assert!(!got[0].attributes["hermes_event_id"].is_empty());
    h.stop().await;
}

#[tokio::test]
async fn purchase_with_a_promoted_item_publishes_it_and_one_without_publishes_nothing() {
    let h = Harness::start().await;
    assert_eq!(h.get(PURCHASE_WITH_PROMOTION).await.status(), 204);
    let got = h.messages("promotions", 2).await;
    assert_eq!(got.len(), 1, "{:?}", texts(&got));
    assert_eq!(
        json_of(&got[0]),
        json!({
            "transaction_id": "T-1001", "value": 42.5, "currency": "EUR",
            "item_id": "SPOON-3", "promotion_id": "SUMMER24", "promotion_name": "Summer Sale"
        })
    );
    assert_eq!(got[0].ordering_key, None, "promotions are not ordered");
    assert_eq!(got[0].attributes["event_name"], "purchase");

    let without = PURCHASE_WITH_PROMOTION
        .replace("~piSUMMER24~pnSummer%20Sale~cpWELCOME", "")
        .replace("T-1001", "T-1002");
    assert_eq!(h.get(&without).await.status(), 204);
    h.nothing_on("promotions").await;
    h.stop().await;
}

/// A Tag beside the examples that orders its messages by transaction id (the examples'
/// Tags set no ordering key).
const ORDERED_TAG: &str = "\
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata:
  name: ordered-purchases
spec:
  firingTriggers: [purchase-with-promotion]
  topic: purchases
  payload:
    fields:
      - {key: transaction_id, value: {eventData: transaction_id}}
      - {key: value, value: {eventData: value}, type: number}
  orderingKey: {eventData: transaction_id}
";

#[tokio::test]
async fn a_tags_ordering_key_reaches_pubsub_and_keyed_messages_arrive_in_hit_order() {
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(manifests.path().join("ordered.yaml"), ORDERED_TAG).unwrap();
    let manifests_dir = manifests.path().to_str().unwrap();
    let h = Harness::start_with(&["--manifests", manifests_dir]).await;
    let ordered = format!("projects/{PROJECT}/subscriptions/purchases-ordered");
    let options = hermes_tests::pubsub::SubscriptionOptions {
        ordering: true,
        ..Default::default()
    };
    h.emulator
        .create_subscription(
            &ordered,
            &format!("projects/{PROJECT}/topics/purchases"),
            options,
        )
        .await
        .unwrap();
    for value in 1..=5 {
        let hit = PURCHASE_WITH_PROMOTION
            .replace("T-1001", "T-77")
            .replace("epn.value=42.5", &format!("epn.value={value}"));
        assert_eq!(h.get(&hit).await.status(), 204);
    }
    let mut got = Vec::new();
    while got.len() < 5 {
        let more = h
            .emulator
            .pull(&ordered, 5 - got.len(), DELIVERY)
            .await
            .unwrap();
        assert!(!more.is_empty(), "only {:?} arrived", texts(&got));
        got.extend(more);
    }
    let values: Vec<Option<f64>> = got.iter().map(|m| json_of(m)["value"].as_f64()).collect();
    assert_eq!(
        values,
        [1.0, 2.0, 3.0, 4.0, 5.0].map(Some),
        "in hit order: {:?}",
        texts(&got)
    );
    let keys: Vec<Option<&str>> = got.iter().map(|m| m.ordering_key.as_deref()).collect();
    assert_eq!(keys, [Some("T-77"); 5]);
    h.stop().await;
}

#[tokio::test]
async fn purchase_of_low_stock_skus_publishes_one_message_per_low_stock_item() {
    let h = Harness::start().await;
    let hit = PURCHASE_WITH_PROMOTION
        .replace("PLATE-99", "BOWL-10")
        .replace("SPOON-3", "MUG-22");
    assert_eq!(h.get(&hit).await.status(), 204);
    let mut got: Vec<Value> = h
        .messages("low-stock", 3)
        .await
        .iter()
        .map(json_of)
        .collect();
    got.sort_by_key(|m| m["sku"].as_str().map(str::to_string));
    assert_eq!(
        got,
        vec![
            json!({"sku": "BOWL-10", "threshold": 5, "quantity": 2, "transaction_id": "T-1001"}),
            json!({"sku": "MUG-22", "threshold": 3, "quantity": 1, "transaction_id": "T-1001"}),
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn batched_post_yields_three_events_and_an_empty_beacon_post_is_accepted() {
    let h = Harness::start().await;
    let body = "en=LowStock&ep.sku=A-1\r\nen=LowStock&ep.sku=B-2\nen=LowStock&ep.sku=C-3\n";
    let response = h
        .post("/g/collect?v=2&tid=G-0000&cid=1.2&_p=99", body)
        .await;
    assert_eq!(response.status(), 204);
    let mut skus: Vec<String> = h
        .messages("low-stock", 3)
        .await
        .iter()
        .map(|m| json_of(m)["sku"].as_str().unwrap().to_string())
        .collect();
    skus.sort();
    assert_eq!(skus, ["A-1", "B-2", "C-3"]);

    let beacon = h
        .post("/g/collect?v=2&tid=G-0000&en=LowStock&ep.sku=D-4", "")
        .await;
    assert_eq!(beacon.status(), 204);
    let got = h.messages("low-stock", 1).await;
    assert_eq!(json_of(&got[0])["sku"], "D-4");
    h.stop().await;
}

fn micros_ago(hours: u64) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now - Duration::from_secs(hours * 3600)).as_micros() as u64
}

fn mp_purchase(transaction: &str) -> Value {
    json!({
        "client_id": "1234567890.1732880000",
        "user_id": "customer-42",
        "timestamp_micros": micros_ago(1),
        "events": [{
            "name": "purchase",
            "params": {
                "session_id": "1732889000",
                "engagement_time_msec": 100,
                "transaction_id": transaction,
                "currency": "EUR",
                "value": 99.9,
                "items": [{"item_id": "BOWL-10", "item_name": "Bowl", "price": 33.3, "quantity": 3}]
            }
        }]
    })
}

#[tokio::test]
async fn measurement_protocol_purchase_publishes_and_a_wrong_api_secret_is_refused() {
    let h = Harness::start().await;
    let url = format!("/mp/collect?measurement_id=G-SHOP&api_secret={MP_SECRET}");
    let response = h.post(&url, mp_purchase("MP-1").to_string()).await;
    assert_eq!(response.status(), 204, "{:?}", response.text().await);
    let got = h.messages("purchases", 1).await;
    assert_eq!(got.len(), 1);
    let body = json_of(&got[0]);
    assert_eq!(body["transaction_id"], "MP-1");
    assert_eq!(body["client_id"], "1234567890.1732880000");
    assert_eq!(body["source"], "shop-backend");
    assert!(body.get("ip_override").is_none(), "excluded: {body}");

    let wrong = h
        .post(
            "/mp/collect?measurement_id=G-SHOP&api_secret=guess",
            mp_purchase("MP-2").to_string(),
        )
        .await;
    assert!(
        matches!(wrong.status().as_u16(), 401 | 403),
        "{}",
        wrong.status()
    );
    let missing = h
        .post(
            "/mp/collect?measurement_id=G-SHOP",
            mp_purchase("MP-3").to_string(),
        )
        .await;
    assert_eq!(missing.status(), 401);
    h.nothing_on("purchases").await;
    h.stop().await;
}

async fn validation(h: &Harness, body: Value) -> Vec<Value> {
    let response = h
        .post("/debug/mp/collect?measurement_id=G-SHOP", body.to_string())
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["validationMessages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn debug_mp_collect_reports_each_broken_rule_precisely_and_a_strict_stream_refuses_them() {
    let h = Harness::start_with(&["--mp-strict-id", "G-SHOP"]).await;
    let mut old = mp_purchase("V-1");
    old["timestamp_micros"] = json!(micros_ago(73));
    let messages = validation(&h, old).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["fieldPath"], "timestamp_micros");
    assert_eq!(messages[0]["validationCode"], "VALUE_INVALID");

    let mut many = mp_purchase("V-2");
    let event = many["events"][0].clone();
    many["events"] = Value::Array(vec![event; 26]);
    let messages = validation(&h, many).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["fieldPath"], "events");
    assert_eq!(messages[0]["validationCode"], "EXCEEDED_MAX_ENTITIES");

    let mut long = mp_purchase("V-3");
    long["events"][0]["name"] = json!("a".repeat(41));
    let messages = validation(&h, long).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["fieldPath"], "events");
    assert_eq!(messages[0]["validationCode"], "NAME_INVALID");
    assert!(messages[0]["description"].as_str().unwrap().contains("41"));

    let mut reserved = mp_purchase("V-4");
    reserved["events"][0]["name"] = json!("session_start");
    let messages = validation(&h, reserved).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["fieldPath"], "events");
    assert_eq!(messages[0]["validationCode"], "NAME_RESERVED");

    assert!(validation(&h, mp_purchase("V-5")).await.is_empty());
    // A strict stream's plain endpoint refuses what the debug endpoint reports, with the
    // reasons.
    let mut old = mp_purchase("V-6");
    old["timestamp_micros"] = json!(micros_ago(73));
    let url = format!("/mp/collect?measurement_id=G-SHOP&api_secret={MP_SECRET}");
    let refused = h.post(&url, old.to_string()).await;
    assert_eq!(refused.status(), 400);
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(
        answer["validationMessages"][0]["validationCode"],
        "VALUE_INVALID"
    );
    h.nothing_on("purchases").await;
    h.stop().await;
}

#[tokio::test]
async fn by_default_an_invalid_parameter_is_dropped_and_the_rest_of_the_purchase_published() {
    let h = Harness::start().await;
    let url = format!("/mp/collect?measurement_id=G-SHOP&api_secret={MP_SECRET}");
    let mut purchase = mp_purchase("LENIENT-1");
    purchase["events"][0]["params"]["coupon"] = json!("c".repeat(101));
    let accepted = h.post(&url, purchase.to_string()).await;
    assert_eq!(accepted.status(), 204, "{:?}", accepted.text().await);
    let got = h.messages("purchases", 1).await;
    assert_eq!(got.len(), 1);
    let body = json_of(&got[0]);
    assert_eq!(body["transaction_id"], "LENIENT-1");
    assert_eq!(body["value"], 99.9);
    assert!(body.get("coupon").is_none(), "the over-long param: {body}");

    // A body that cannot be read at all is accepted too, and nothing of it published.
    let not_json = h.post(&url, "{").await;
    assert_eq!(not_json.status(), 204);
    h.nothing_on("purchases").await;

    let metrics = h.get("/metrics").await.text().await.unwrap();
    for series in [
        "hermes_gateway_mp_dropped_total{code=\"VALUE_OUT_OF_BOUNDS\",part=\"parameter\"} 1",
        "hermes_gateway_mp_dropped_total{code=\"VALUE_INVALID\",part=\"request\"} 1",
        "hermes_gateway_hits_total{client=\"measurementProtocol\",outcome=\"accepted\"} 2",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    h.stop().await;
}

#[tokio::test]
async fn debug_mode_shows_the_full_trace_and_publishes_nothing() {
    let h = Harness::start().await;
    let response = h
        .http
        .get(format!("{}{PURCHASE_WITH_PROMOTION}", h.base))
        .header("x-hermes-debug", DEBUG_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let trace: Value = response.json().await.unwrap();
    let event = &trace["events"][0];
    assert_eq!(event["eventData"]["transaction_id"], "T-1001");
    assert_eq!(event["eventData"]["items"][1]["promotion_id"], "SUMMER24");
    let trigger = event["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "purchase-with-promotion")
        .unwrap();
    assert_eq!(trigger["fired"], true);
    assert_eq!(trigger["conditions"][0]["result"], true);
    let tags = event["tags"].as_array().unwrap();
    let promotion = tags.iter().find(|t| t["name"] == "promotion-used").unwrap();
    assert_eq!(promotion["fired"], true);
    assert_eq!(
        promotion["messages"][0]["topic"],
        "projects/hermes-local/topics/promotions"
    );
    assert_eq!(promotion["messages"][0]["data"]["promotion_id"], "SUMMER24");
    let signal = tags
        .iter()
        .find(|t| t["name"] == "low-stock-signal")
        .unwrap();
    assert_eq!(signal["reason"], "no firing trigger fired");
    h.nothing_on("promotions").await;

    // A wrong token is no token: the hit is published as usual.
    let normal = h
        .http
        .get(format!("{}{PURCHASE_WITH_PROMOTION}", h.base))
        .header("x-hermes-debug", "guess")
        .send()
        .await
        .unwrap();
    assert_eq!(normal.status(), 204);
    assert_eq!(h.messages("promotions", 1).await.len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn bad_hits_get_a_4xx_with_a_reason_and_health_shows_the_config_hash() {
    let h = Harness::start().await;
    for (path, reason) in [
        ("/g/collect?v=2&tid=G-0000", "missing_event_name"),
        (
            "/g/collect?v=1&tid=G-0000&en=page_view",
            "unsupported_version",
        ),
    ] {
        let response = h.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], reason, "{path}: {body}");
        assert!(!body["reasons"][0].as_str().unwrap().is_empty());
    }
    let too_big = h
        .post(
            "/g/collect?v=2&en=x",
            "en=y&ep.a=".to_string() + &"z".repeat(300_000),
        )
        .await;
    assert_eq!(too_big.status(), 413);
    let unknown_secret = h
        .post("/mp/collect?measurement_id=G-SHOP&api_secret=guess", "{")
        .await;
    assert_eq!(unknown_secret.status(), 403);

    let ready: Value = h.get("/readyz").await.json().await.unwrap();
    let hash = ready["configHash"].as_str().unwrap().to_string();
    assert!(hash.starts_with("sha256:"), "{ready}");
    let metrics = h.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!("hermes_gateway_config_info{{hash=\"{hash}\"}} 1")),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("hermes_gateway_hits_total{client=\"ga4\",outcome=\"missing_event_name\"} 1")
    );
    h.stop().await;
}
