//! Hostile input never panics the parsers or the evaluator: mutated real hits and random
//! bytes (a seeded generator, so a failure reproduces) either parse or are refused.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use hermes_gateway::collect::{Limits, MpQuery, parse_ga4, parse_mp};
use hermes_gateway::config_source::manifests::compile_manifests;
use hermes_gateway::event::RequestInfo;
use hermes_gateway::fire::{PreparedConfig, evaluate};

/// xorshift64*: small, deterministic, good enough to shake parsers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const GA4_SEEDS: [&str; 3] = [
    "v=2&tid=G-0000&gtm=45je4&_p=1&cid=1.2&sid=3&sct=1&seg=1&_s=2&en=purchase&cu=EUR&ep.transaction_id=T-1&epn.value=42.5&pr1=idBOWL-10~nmBowl~pr12.5~qt2~k0color~v0blue&pr2=idMUG-22~piSUMMER~pnSale&gcs=G101&gcd=13r3v3l3l5l1&up.tier=gold&upn.age=30&uaa=x86&uafvl=Chromium%3B120",
    "v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10",
    "v=2&tid=G-0000&en=add_to_cart&_dbg=1&richsstsse&pr200=idX",
];

const MP_SEED: &str = r#"{"client_id":"1.2","user_id":"u","timestamp_micros":1732880000000000,"user_properties":{"tier":{"value":"gold"}},"consent":{"ad_user_data":"GRANTED"},"events":[{"name":"purchase","params":{"session_id":"1","transaction_id":"T","value":9.5,"items":[{"item_id":"BOWL-10","price":1,"quantity":2}]}}]}"#;

const NASTY: [&[u8]; 12] = [
    b"%",
    b"%zz",
    b"~",
    b"=",
    b"&&&",
    b"\xff\xfe",
    b"pr1=",
    b"pr999999999999=",
    b"\r\n",
    b"epn.value=1e999",
    b"{",
    b"[[[[[[[[[[",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(4) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            1 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                let end = (i + rng.below(16)).min(bytes.len());
                bytes.drain(i..end);
            }
            2 => {
                let i = rng.below(bytes.len() + 1);
                let nasty = NASTY[rng.below(NASTY.len())];
                bytes.splice(i..i, nasty.iter().copied());
            }
            _ => {
                let i = rng.below(bytes.len() + 1);
                let copy: Vec<u8> = bytes[..i].to_vec();
                bytes.extend_from_slice(&copy[..copy.len().min(64)]);
            }
        }
    }
    bytes
}

fn examples() -> PreparedConfig {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let (config, problems) = compile_manifests(&[dir], "fuzz").unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    PreparedConfig::prepare(config).unwrap()
}

#[test]
fn mutated_gtag_hits_parse_or_are_refused_and_parsed_ones_evaluate() {
    let config = examples();
    let request = RequestInfo::default();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut parsed, mut refused) = (0, 0);
    for round in 0..20_000 {
        let seed = GA4_SEEDS[round % GA4_SEEDS.len()].as_bytes();
        let query = mutate(&mut rng, seed);
        let body = if rng.below(2) == 0 {
            mutate(&mut rng, seed)
        } else {
            Vec::new()
        };
        let query = String::from_utf8_lossy(&query);
        match parse_ga4(&query, &body, &request, &Limits::default()) {
            Ok(events) => {
                parsed += 1;
                for (i, event) in events.iter().enumerate() {
                    let _ = evaluate(&config, event, &request, i, round % 7 == 0);
                }
            }
            Err(error) => {
                refused += 1;
                assert!(!error.to_string().is_empty());
            }
        }
    }
    assert!(
        parsed > 1000 && refused > 100,
        "parsed {parsed}, refused {refused}"
    );
}

#[test]
fn mutated_and_random_measurement_protocol_bodies_never_panic() {
    let config = examples();
    let request = RequestInfo::default();
    let query = MpQuery {
        measurement_id: Some("G-1"),
        ..Default::default()
    };
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    // An hour after the seed's timestamp, so unmutated timestamps are valid.
    let now = SystemTime::UNIX_EPOCH + Duration::from_micros(1_732_883_600_000_000);
    let mut valid = 0;
    for round in 0..20_000 {
        let body = if round % 5 == 0 {
            (0..rng.below(256)).map(|_| rng.next() as u8).collect()
        } else {
            mutate(&mut rng, MP_SEED.as_bytes())
        };
        let outcome = parse_mp(&body, &query, &request, now);
        if outcome.is_valid() {
            valid += 1;
            for (i, event) in outcome.events.iter().enumerate() {
                let _ = evaluate(&config, event, &request, i, false);
            }
        } else {
            assert!(
                outcome
                    .validation
                    .validation_messages
                    .iter()
                    .all(|m| !m.description.is_empty())
            );
        }
    }
    assert!(valid > 100, "some mutations stay valid: {valid}");
}
