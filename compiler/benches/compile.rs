//! The operator's compile step at scale: 1,000 and 10,000 Tag + Trigger pairs
//! ([`hermes_compiler::synthetic`], shaped like `examples/`).
//!
//! - `baseline/parse_json/N`: only deserializing the same objects from the JSON the API
//!   server sends (what the operator's watchers do for every object anyway);
//! - `compile/N`: the pure compile, hash included;
//! - `compile_and_encode/N`: compile plus encoding for ConfigMaps (serialize, gzip, split
//!   into shards when large), the operator's whole compile step.
//!
//! Before criterion, one line per size prints the first compile in the process (`cold`:
//! the compiler remembers which regexes compile, so later compiles of the same objects,
//! like every reconcile after the operator's first, skip that), then the median of a few
//! timed runs of each and their ratio to the baseline, so results read the same on any
//! machine. The criterion entries are all warm.
//!
//! `cargo bench -p hermes-compiler --bench compile`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hermes_compiler::compile::{Resources, compile};
use hermes_compiler::contract;
use hermes_crds::api::{Tag, Trigger};

const SIZES: [usize; 2] = [1_000, 10_000];

/// The objects as the API server would send them: one JSON document each.
struct Documents {
    tags: Vec<String>,
    triggers: Vec<String>,
}

fn scope(pairs: usize) -> (Resources, Documents) {
    let resources = match hermes_compiler::synthetic::pairs(pairs, "hermes-bench") {
        Ok(resources) => resources,
        Err(error) => panic!("synthetic pairs do not build: {error}"),
    };
    let documents = Documents {
        tags: resources.tags.iter().map(json).collect(),
        triggers: resources.triggers.iter().map(json).collect(),
    };
    (resources, documents)
}

fn json<T: serde::Serialize>(object: &T) -> String {
    serde_json::to_string(object).unwrap_or_default()
}

fn parse(documents: &Documents) -> Resources {
    let tags = documents.tags.iter();
    let triggers = documents.triggers.iter();
    Resources {
        tags: tags
            .filter_map(|doc| serde_json::from_str::<Tag>(doc).ok())
            .collect(),
        triggers: triggers
            .filter_map(|doc| serde_json::from_str::<Trigger>(doc).ok())
            .collect(),
        ..Resources::default()
    }
}

fn compile_and_encode(resources: &Resources) -> usize {
    let output = compile("bench", resources);
    contract::encode(&output.config).map_or(0, |encoded| encoded.stored_bytes)
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("operator_compile");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for pairs in SIZES {
        let (resources, documents) = scope(pairs);
        group.bench_with_input(
            BenchmarkId::new("baseline/parse_json", pairs),
            &documents,
            |b, documents| b.iter(|| parse(black_box(documents))),
        );
        group.bench_with_input(BenchmarkId::new("compile", pairs), &resources, |b, r| {
            b.iter(|| compile("bench", black_box(r)))
        });
        group.bench_with_input(
            BenchmarkId::new("compile_and_encode", pairs),
            &resources,
            |b, r| b.iter(|| compile_and_encode(black_box(r))),
        );
    }
    group.finish();
}

/// The median of `runs` timed calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ratios(_: &mut Criterion) {
    for pairs in SIZES {
        let (resources, documents) = scope(pairs);
        let cold = median(1, || drop(black_box(compile("bench", &resources))));
        let parse_time = median(5, || drop(black_box(parse(&documents))));
        let compile_time = median(5, || drop(black_box(compile("bench", &resources))));
        let encode_time = median(5, || {
            black_box(compile_and_encode(&resources));
        });
        let ratio = |time: Duration| time.as_secs_f64() / parse_time.as_secs_f64();
        println!(
            "ratios/{pairs}: parse {parse_time:?}, compile cold {cold:?} ({:.2}x parse), \
             compile {compile_time:?} ({:.2}x parse), compile+encode {encode_time:?} \
             ({:.2}x parse)",
            ratio(cold),
            ratio(compile_time),
            ratio(encode_time),
        );
    }
}

criterion_group!(benches, ratios, bench_compile);
criterion_main!(benches);
