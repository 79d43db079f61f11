//! The hit each realistic synthetic pair comes with (`Variety::gtag_hit`) fires that
//! pair's Tag through the gateway's own parser and evaluator, with all the pairs in one
//! config: the scale tests and `operator-scale` send these hits to prove a Tag is served,
//! so a hit that fires nothing would make them fail for the wrong reason.

use hermes_compiler::compile::compile;
use hermes_compiler::synthetic::Variety;
use hermes_gateway::collect::{Limits, parse_ga4};
use hermes_gateway::event::RequestInfo;
use hermes_gateway::fire::{PreparedConfig, evaluate};

const PAIRS: usize = 1_000;

#[test]
fn every_realistic_pairs_gtag_hit_fires_its_tag_with_version_1() {
    let variety = Variety::REALISTIC;
    let resources = variety.pairs(PAIRS, "hermes-local").unwrap();
    let output = compile("scale", &resources);
    assert_eq!(output.diagnostics, []);
    let config = PreparedConfig::prepare(output.config).unwrap();
    let mut hits = 0;
    for i in 0..PAIRS {
        let Some(hit) = variety.gtag_hit(i) else {
            continue;
        };
        hits += 1;
        let query = hit.strip_prefix("/g/collect?").unwrap();
        let request = RequestInfo {
            method: "GET".into(),
            path: "/g/collect".into(),
            query: query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            ..RequestInfo::default()
        };
        let events = parse_ga4(query, b"", &request, &Limits::default()).unwrap();
        assert_eq!(events.len(), 1, "{hit}");
        let outcome = evaluate(&config, &events[0], &request, 0, false);
        let tag = variety.tag_name(i);
        let mine: Vec<_> = outcome.messages.iter().filter(|m| m.tag == tag).collect();
        assert_eq!(
            mine.len(),
            1,
            "pair {i}: {hit} fired {:?}",
            outcome.tags_fired
        );
        assert_eq!(
            mine[0].data.value()["version"],
            "1",
            "pair {i}: {}",
            mine[0].data
        );
        assert!(mine[0].topic.ends_with(&format!("/{}", variety.topic(i))));
    }
    assert!(
        hits >= PAIRS * 8 / 10,
        "{hits} pairs of {PAIRS} have a gtag hit"
    );
}
