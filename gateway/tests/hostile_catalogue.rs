//! The catalogue of hostile requests and the answer each gets from the real gateway
//! binary over a real TCP socket: broken encodings, oversized queries and bodies, absurd
//! numbers, deep or truncated JSON, wrong methods and content types, unknown streams, and
//! clients trickling bytes. None may get a 5xx, crash the gateway or hold a worker: after
//! the catalogue the gateway still answers at once. `docs/reliability.md` ("Bad input and
//! security") lists the same answers.

use std::time::{Duration, Instant};

use hermes_tests::gateway_process::GatewayProcess;
use hermes_tests::pubsub::PubSubEmulator;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MP_SECRET: &str = "s3cret";
/// The gateway's header and body read timeouts in these tests.
const READ_TIMEOUT_SECS: u64 = 1;
/// How long a raw exchange may take before the test calls the gateway stuck.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

struct Gateway {
    _emulator: PubSubEmulator,
    process: GatewayProcess,
    address: String,
}

impl Gateway {
    async fn start() -> Gateway {
        let emulator = PubSubEmulator::start().await.expect("emulator starts");
        let timeout = READ_TIMEOUT_SECS.to_string();
        let process = GatewayProcess::builder()
            .examples()
            .pubsub(emulator.host_port())
            .args(["--mp-secret", &format!("G-SHOP={MP_SECRET}")])
            .args(["--header-read-timeout-secs", &timeout])
            .args(["--body-read-timeout-secs", &timeout])
            .start()
            .await
            .expect("gateway becomes ready");
        Gateway {
            _emulator: emulator,
            address: process.address().to_owned(),
            process,
        }
    }

    /// Whether the process is still running.
    fn alive(&mut self) -> bool {
        self.process.process.is_running()
    }
}

/// A parsed HTTP answer: the status and the `error` of the JSON body, if any.
#[derive(Debug)]
struct Answer {
    status: u16,
    reason: Option<String>,
}

/// Write `request` as is, read the answer to its end (the request says
/// `Connection: close`).
async fn exchange(address: &str, request: &[u8]) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(request).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tokio::time::timeout(ANSWER_WITHIN, stream.read_to_end(&mut raw))
        .await
        .map_err(|_| "no answer in time".to_string())?
        .map_err(|e| e.to_string())?;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))?;
    let reason = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<Value>(body).ok())
        .and_then(|body| body["error"].as_str().map(str::to_string));
    Ok(Answer { status, reason })
}

fn get(path_and_query: &str) -> Vec<u8> {
    format!("GET {path_and_query} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").into_bytes()
}

fn post(path_and_query: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path_and_query} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn mp_url() -> String {
    format!("/mp/collect?measurement_id=G-SHOP&api_secret={MP_SECRET}")
}

/// One hostile request and the answer it must get.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    reason: Option<&'static str>,
}

fn case(name: &'static str, request: Vec<u8>, status: u16, reason: Option<&'static str>) -> Case {
    Case {
        name,
        request,
        status,
        reason,
    }
}

fn catalogue() -> Vec<Case> {
    const HIT: &str = "/g/collect?v=2&tid=G-0000&en=LowStock";
    let many_params: String = (0..10_000).map(|i| format!("&ep.p{i}=x")).collect();
    let many_item_fields: String = (0..10_000).map(|i| format!("k{i}x~v{i}y~")).collect();
    let deep_json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge_query = format!("{HIT}&ep.big={}", "a".repeat(1024 * 1024));
    vec![
        case(
            "broken percent-encoding in the query",
            get(&format!("{HIT}&ep.sku=%E0%A4%zz%")),
            204,
            None,
        ),
        case(
            "invalid UTF-8 in the query, percent-encoded",
            get(&format!("{HIT}&ep.sku=%FF%FE")),
            204,
            None,
        ),
        case(
            "invalid UTF-8 in the query, raw bytes",
            [b"GET /g/collect?v=2&tid=G-0000&en=Low\xff\xfe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".as_slice()].concat(),
            400,
            None,
        ),
        case(
            "invalid UTF-8 in a /g/collect body",
            post(HIT, "text/plain", b"en=LowStock&ep.sku=\xff\xfe"),
            204,
            None,
        ),
        case(
            "invalid UTF-8 in a Measurement Protocol body",
            post(&mp_url(), "application/json", b"{\"client_id\":\"\xff\"}"),
            204,
            None,
        ),
        case("a 1 MB query string", get(&huge_query), 431, None),
        case(
            "10,000 parameters in the query (a URI over 64 KiB)",
            get(&format!("{HIT}{many_params}")),
            414,
            None,
        ),
        case(
            "10,000 parameters in the body",
            post(HIT, "text/plain", format!("en=LowStock{many_params}").as_bytes()),
            400,
            Some("too_many_params"),
        ),
        case(
            "pr1 with 10,000 fields",
            post(HIT, "text/plain", format!("pr1={many_item_fields}").as_bytes()),
            204,
            None,
        ),
        case("a huge number", get(&format!("{HIT}&epn.value=1e999")), 204, None),
        case("negative zero", get(&format!("{HIT}&epn.value=-0")), 204, None),
        case("NaN", get(&format!("{HIT}&epn.value=NaN")), 204, None),
        case(
            "10,000 nested JSON arrays, lenient stream",
            post(&mp_url(), "application/json", deep_json.as_bytes()),
            204,
            None,
        ),
        case(
            "10,000 nested JSON arrays at the validation server",
            post(
                "/debug/mp/collect?measurement_id=G-SHOP",
                "application/json",
                deep_json.as_bytes(),
            ),
            200,
            None,
        ),
        case(
            "truncated JSON",
            post(&mp_url(), "application/json", b"{\"client_id\":\"1.2\",\"events\":[{\"na"),
            204,
            None,
        ),
        case(
            "Measurement Protocol sent as a form",
            post(&mp_url(), "application/x-www-form-urlencoded", b"client_id=1.2"),
            204,
            None,
        ),
        case(
            "a gtag.js hit sent as JSON",
            post(HIT, "application/json", b"{\"en\":\"LowStock\"}"),
            204,
            None,
        ),
        case(
            "an unknown measurement id",
            post(
                "/mp/collect?measurement_id=G-NOPE&api_secret=guess",
                "application/json",
                b"{}",
            ),
            403,
            Some("invalid_api_secret"),
        ),
        case(
            "no measurement id",
            post("/mp/collect?api_secret=guess", "application/json", b"{}"),
            400,
            Some("missing_measurement_id"),
        ),
        case(
            "a body over the limit",
            post(HIT, "text/plain", &vec![b'a'; 300 * 1024]),
            413,
            Some("body_too_large"),
        ),
        case("an unknown path", get("/wp-admin"), 404, None),
        case(
            "an unknown method",
            b"DELETE /g/collect HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(),
            405,
            None,
        ),
        case("GET on the Measurement Protocol", get(&mp_url()), 405, None),
        case(
            "not HTTP at all",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            400,
            None,
        ),
    ]
}

#[tokio::test]
async fn every_hostile_request_gets_its_catalogued_answer_and_never_a_5xx() {
    let mut gateway = Gateway::start().await;
    let mut wrong = Vec::new();
    for case in catalogue() {
        let answer = exchange(&gateway.address, &case.request)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(answer.status < 500, "{}: {answer:?}", case.name);
        if answer.status != case.status
            || (case.reason.is_some() && answer.reason.as_deref() != case.reason)
        {
            wrong.push(format!(
                "{}: expected {} {:?}, got {answer:?}",
                case.name, case.status, case.reason
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(gateway.alive(), "the gateway survived the catalogue");
    let after = exchange(&gateway.address, &get("/healthz")).await.unwrap();
    assert_eq!(after.status, 200);
}

/// Connect and send `request` one byte every 200 ms (see [`trickle_on`]).
async fn trickle(address: &str, request: &[u8]) -> (Option<u16>, Duration) {
    let stream = TcpStream::connect(address).await.unwrap();
    trickle_on(stream, request).await
}

#[tokio::test]
async fn clients_trickling_bytes_are_cut_off_and_others_are_served_meanwhile() {
    let gateway = Gateway::start().await;
    let limit = Duration::from_secs(READ_TIMEOUT_SECS + 2);

    // A request head that never ends: disconnected without an answer or with 408.
    let head = "GET /g/collect?v=2&tid=G-0000&en=LowStock HTTP/1.1\r\nHost: t\r\nX-Slow: "
        .to_string()
        + &"a".repeat(100);
    let slow_head = tokio::spawn({
        let address = gateway.address.clone();
        async move { trickle(&address, head.as_bytes()).await }
    });
    // A body announced as 100 bytes and trickled: 408 once the body read timeout passes.
    let mut body_request =
        b"POST /g/collect?v=2&tid=G-0000&en=LowStock HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
            .to_vec();
    let header_len = body_request.len();
    body_request.extend_from_slice(&[b'a'; 100]);
    let slow_body = tokio::spawn({
        let address = gateway.address.clone();
        async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            stream.write_all(&body_request[..header_len]).await.unwrap();
            trickle_on(stream, &body_request[header_len..]).await
        }
    });

    // Meanwhile the gateway answers others at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let other = exchange(&gateway.address, &get("/healthz")).await.unwrap();
    assert_eq!(other.status, 200);
    assert!(started.elapsed() < Duration::from_secs(1));

    let (status, took) = slow_head.await.unwrap();
    assert!(
        matches!(status, None | Some(408)),
        "slow head answered {status:?}"
    );
    assert!(took < limit, "slow head held for {took:?}");
    let (status, took) = slow_body.await.unwrap();
    assert_eq!(status, Some(408), "slow body");
    assert!(took < limit, "slow body held for {took:?}");
}

/// Send `bytes` one every 200 ms until the server answers or closes; the answer's status
/// (`None` when closed without one) and how long the connection lasted.
async fn trickle_on(mut stream: TcpStream, bytes: &[u8]) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let mut raw = Vec::new();
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buffer = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                raw.extend_from_slice(&buffer[..n]);
                break;
            }
            Err(_) => {}
        }
        assert!(started.elapsed() < ANSWER_WITHIN, "still connected");
    }
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
    raw.extend_from_slice(&rest);
    (parse_answer(&raw).ok().map(|a| a.status), started.elapsed())
}
