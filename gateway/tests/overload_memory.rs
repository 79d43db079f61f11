//! Memory stays bounded under overload: a real gateway process (counting publisher, the
//! durable buffer in the path) gets far more concurrent requests than it can answer, with
//! no pause, for a few seconds. Its resident memory stays under a bound, and every
//! request is answered 2xx or 503 (never another 5xx, never a dropped connection).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hermes_tests::gateway_process::GatewayProcess;
use hermes_tests::product::Process;

/// Concurrent requests in flight all the time (each on its own connection).
const CONCURRENCY: usize = 256;
/// How long the overload lasts.
const OVERLOAD: Duration = Duration::from_secs(5);
/// The bound on resident memory (peak, `VmHWM`) of the debug build under this load. An
/// unbounded queue anywhere on the hit path grows past it within the overload.
const MAX_RSS_KIB: u64 = 96 * 1024;
const MP_SECRET: &str = "overload-secret";

/// The hits sent in turn: one that fires a tag, a purchase with items that fires two,
/// a page view that fires nothing, and a Measurement Protocol purchase.
const HITS: [&str; 3] = [
    "/g/collect?v=2&tid=G-0000&cid=1.2&en=LowStock&ep.sku=BOWL-10",
    "/g/collect?v=2&tid=G-0000&cid=1.2&en=purchase&cu=EUR&ep.transaction_id=T-1&epn.value=42.5\
&pr1=idBOWL-10~nmBowl~pr12.5~qt2~piSUMMER24&pr2=idMUG-22~nmMug~pr7.5~qt1",
    "/g/collect?v=2&tid=G-0000&cid=1.2&en=page_view&dl=https%3A%2F%2Fshop.example%2F",
];
const MP_PURCHASE: &str = r#"{"client_id":"1.2","events":[{"name":"purchase","params":{"transaction_id":"MP-1","currency":"EUR","value":9.9,"items":[{"item_id":"BOWL-10","price":3.3,"quantity":3}]}}]}"#;

fn rss_kib(process: &Process, field: &str) -> u64 {
    let Some(pid) = process.id() else {
        panic!("the gateway exited");
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[derive(Debug, Default)]
struct Answers {
    ok: u64,
    unavailable: u64,
    other: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_keeps_memory_bounded_and_answers_only_2xx_or_503() {
    let mut gateway = GatewayProcess::builder()
        .examples()
        .args(["--mp-secret", &format!("G-SHOP={MP_SECRET}")])
        .args(["--publisher", "counting"])
        .start()
        .await
        .expect("gateway starts and becomes ready");
    let base = gateway.url();
    let idle_kib = rss_kib(&gateway.process, "VmRSS:");

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..CONCURRENCY {
        let (client, base, stop) = (client.clone(), base.clone(), Arc::clone(&stop));
        senders.spawn(async move {
            let mut answers = Answers::default();
            let mut n = sender;
            while !stop.load(Ordering::Relaxed) {
                let request = match n % (HITS.len() + 1) {
                    i if i < HITS.len() => client.get(format!("{base}{}", HITS[i])),
                    _ => client
                        .post(format!(
                            "{base}/mp/collect?measurement_id=G-SHOP&api_secret={MP_SECRET}"
                        ))
                        .body(MP_PURCHASE),
                };
                n += 1;
                match request.send().await {
                    Ok(answer) if answer.status().is_success() => answers.ok += 1,
                    Ok(answer) if answer.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                        answers.unavailable += 1
                    }
                    Ok(answer) => answers.other.push(answer.status().to_string()),
                    Err(error) => answers.other.push(error.to_string()),
                }
            }
            answers
        });
    }
    let mut peak_sampled_kib = 0;
    let deadline = tokio::time::Instant::now() + OVERLOAD;
    while tokio::time::Instant::now() < deadline {
        peak_sampled_kib = peak_sampled_kib.max(rss_kib(&gateway.process, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = Answers::default();
    while let Some(answers) = senders.join_next().await {
        let answers = answers.unwrap();
        total.ok += answers.ok;
        total.unavailable += answers.unavailable;
        total.other.extend(answers.other);
    }
    let peak_kib = rss_kib(&gateway.process, "VmHWM:");
    assert!(gateway.process.is_running(), "the gateway survived");
    eprintln!(
        "idle {idle_kib} KiB, peak {peak_kib} KiB (sampled {peak_sampled_kib} KiB); \
{} answered 2xx, {} 503",
        total.ok, total.unavailable
    );
    assert!(
        total.other.is_empty(),
        "only 2xx and 503: {} others, e.g. {:?}",
        total.other.len(),
        &total.other[..total.other.len().min(5)]
    );
    assert!(total.ok > 0, "hits were accepted");
    assert!(
        peak_kib <= MAX_RSS_KIB,
        "peak RSS {peak_kib} KiB above {MAX_RSS_KIB} KiB (idle {idle_kib} KiB)"
    );
}
