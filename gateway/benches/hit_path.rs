//! The hit path's CPU cost: parsing a gtag purchase and an MP purchase, and evaluating
//! them against `examples/`. The `baseline` entry (only URL-decoding the same query) is
//! measured in the same run, so results can be read as ratios to it on any machine.
//!
//! The `preview/` entries measure the live preview's per-hit check (one atomic load when
//! no session is open).
//!
//! `cargo bench -p hermes-gateway --bench hit_path`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use hermes_gateway::collect::{Limits, MpQuery, parse_ga4, parse_mp};
use hermes_gateway::config_source::manifests::compile_manifests;
use hermes_gateway::event::RequestInfo;
use hermes_gateway::fire::{PreparedConfig, evaluate};
use hermes_gateway::preview::PreviewRegistry;

const PURCHASE: &str = "v=2&tid=G-0000&gtm=45je4bn0v9&_p=1732890000123&cid=1234567890.1732880000\
&ul=en-us&sr=1920x1080&_s=4&sid=1732889000&sct=3&seg=1&dl=https%3A%2F%2Fshop.example%2Fcheckout\
&dt=Thank%20you&en=purchase&cu=EUR&ep.transaction_id=T-1001&epn.value=42.5&epn.tax=7.1\
&pr1=idBOWL-10~nmBowl~brAcme~caTableware~pr12.5~qt2&pr2=idSPOON-3~nmSpoon~pr17.5~qt1~piSUMMER24~pnSummer%20Sale";

const MP_PURCHASE: &str = r#"{"client_id":"1234567890.1732880000","timestamp_micros":1732880000000000,
"events":[{"name":"purchase","params":{"session_id":"1732889000","transaction_id":"MP-1","currency":"EUR",
"value":99.9,"items":[{"item_id":"BOWL-10","price":33.3,"quantity":3}]}}]}"#;

fn examples() -> PreparedConfig {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    match compile_manifests(&[dir], "bench") {
        Ok((config, _)) => match PreparedConfig::prepare(config) {
            Ok(prepared) => prepared,
            Err(error) => panic!("examples do not prepare: {error}"),
        },
        Err(error) => panic!("examples do not compile: {error}"),
    }
}

fn hit_path(c: &mut Criterion) {
    let config = examples();
    let request = RequestInfo::default();
    let limits = Limits::default();
    let now = SystemTime::UNIX_EPOCH + Duration::from_micros(1_732_883_600_000_000);
    let mp_query = MpQuery {
        measurement_id: Some("G-SHOP"),
        ..Default::default()
    };

    c.bench_function("baseline/url_decode_purchase_query", |b| {
        b.iter(|| url::form_urlencoded::parse(black_box(PURCHASE).as_bytes()).count())
    });
    c.bench_function("ga4/parse_purchase", |b| {
        b.iter(|| parse_ga4(black_box(PURCHASE), b"", &request, &limits))
    });
    c.bench_function("ga4/parse_and_fire_purchase", |b| {
        b.iter(|| {
            let events = parse_ga4(black_box(PURCHASE), b"", &request, &limits).unwrap_or_default();
            events
                .iter()
                .enumerate()
                .map(|(i, e)| evaluate(&config, e, &request, i, false).messages.len())
                .sum::<usize>()
        })
    });
    c.bench_function("mp/parse_and_fire_purchase", |b| {
        b.iter(|| {
            let outcome = parse_mp(black_box(MP_PURCHASE.as_bytes()), &mp_query, &request, now);
            outcome
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| evaluate(&config, e, &request, i, false).messages.len())
                .sum::<usize>()
        })
    });
}

/// The live preview's check on every hit: with no session open (the cost every hit pays
/// when nobody previews), and with another person's session open.
fn preview_check(c: &mut Criterion) {
    let registry = PreviewRegistry::default();
    let request = RequestInfo {
        headers: [("cookie", "_ga=GA1.1.1234567890.1732880000")]
            .into_iter()
            .collect(),
        ..RequestInfo::default()
    };
    c.bench_function("preview/session_for_none_open", |b| {
        b.iter(|| registry.session_for(black_box(&request)).is_some())
    });
    registry.start(false);
    c.bench_function("preview/session_for_other_session_open", |b| {
        b.iter(|| registry.session_for(black_box(&request)).is_some())
    });
}

criterion_group!(benches, hit_path, preview_check);
criterion_main!(benches);
