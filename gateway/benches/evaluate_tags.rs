//! Evaluating one gtag purchase against generated configs of 10, 100 and 1,000 Tags (each
//! with its own Trigger; one in ten listens to `purchase` and fires when the order's value
//! is above its threshold, the others listen to other events). `baseline/examples` (the
//! same hit against `examples/`: five Tags) is measured in the same run: read the results
//! as ratios to it, and to each other (how evaluation grows with the number of Tags).
//!
//! `cargo bench -p hermes-gateway --bench evaluate_tags`

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hermes_gateway::collect::{Limits, parse_ga4};
use hermes_gateway::config_source::manifests::compile_manifests;
use hermes_gateway::event::{Event, RequestInfo};
use hermes_gateway::fire::{PreparedConfig, evaluate};

const PURCHASE: &str = "v=2&tid=G-0000&cid=1234567890.1732880000&sid=1732889000\
&dl=https%3A%2F%2Fshop.example%2Fcheckout&en=purchase&cu=EUR&ep.transaction_id=T-1001\
&epn.value=42.5&pr1=idBOWL-10~nmBowl~pr12.5~qt2&pr2=idSPOON-3~nmSpoon~pr17.5~qt1";

fn prepare(paths: &[PathBuf]) -> PreparedConfig {
    match compile_manifests(paths, "bench") {
        Ok((config, problems)) => match PreparedConfig::prepare(config) {
            Ok(_) if !problems.is_empty() => panic!("config has problems: {problems:?}"),
            Ok(prepared) => prepared,
            Err(error) => panic!("config does not prepare: {error}"),
        },
        Err(error) => panic!("config does not compile: {error}"),
    }
}

/// `tags` Tags with a Trigger each, written as manifests into `dir`.
fn generated(dir: &Path, tags: usize) -> PreparedConfig {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hermes-settings}\ndata: {project: hermes-bench}\n",
    );
    for i in 0..tags {
        let event = if i % 10 == 0 {
            "purchase".to_owned()
        } else {
            format!("custom_{i}")
        };
        let threshold = i % 100;
        let topic = i % 20;
        let _ = write!(
            yaml,
            concat!(
                "---\napiVersion: hermes.io/v1alpha1\nkind: Trigger\n",
                "metadata: {{name: trigger-{i}}}\n",
                "spec:\n",
                "  event: {{name: {event}}}\n",
                "  conditions:\n",
                "    - {{variable: {{eventData: value}}, operator: greaterThan, value: {threshold}}}\n",
                "---\napiVersion: hermes.io/v1alpha1\nkind: Tag\n",
                "metadata: {{name: tag-{i}}}\n",
                "spec:\n",
                "  firingTriggers: [trigger-{i}]\n",
                "  topic: topic-{topic}\n",
                "  payload:\n",
                "    fields:\n",
                "      - {{key: transaction_id, value: {{eventData: transaction_id}}}}\n",
                "      - {{key: value, value: {{eventData: value}}, type: number}}\n",
            ),
            i = i,
            event = event,
            threshold = threshold,
            topic = topic,
        );
    }
    let path = dir.join(format!("tags-{tags}.yaml"));
    if let Err(error) = std::fs::write(&path, yaml) {
        panic!("writing {}: {error}", path.display());
    }
    prepare(&[path])
}

fn messages(config: &PreparedConfig, events: &[Event], request: &RequestInfo) -> usize {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| evaluate(config, e, request, i, false).messages.len())
        .sum()
}

fn evaluate_tags(c: &mut Criterion) {
    let request = RequestInfo::default();
    let events = match parse_ga4(PURCHASE, b"", &request, &Limits::default()) {
        Ok(events) => events,
        Err(error) => panic!("the purchase parses: {error:?}"),
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("temp dir: {error}"),
    };
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(1));
    let examples = prepare(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")]);
    group.bench_function("baseline/examples", |b| {
        b.iter(|| messages(&examples, black_box(&events), &request))
    });
    for tags in [10, 100, 1_000] {
        let config = generated(dir.path(), tags);
        // Tags 0, 10, 20, … listen to purchase; those with a threshold under 42.5 fire.
        let fired = messages(&config, &events, &request);
        assert!(fired > 0, "{tags} tags: some fire");
        group.bench_with_input(BenchmarkId::new("tags", tags), &config, |b, config| {
            b.iter(|| messages(config, black_box(&events), &request))
        });
    }
    group.finish();
}

criterion_group!(benches, evaluate_tags);
criterion_main!(benches);
