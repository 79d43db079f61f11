//! The operator's compile step at scale: 1,000 and 10,000 Tag + Trigger pairs
//! ([`hermes_compiler::synthetic`]) in two series: the uniform shapes of `examples/`
//! (entries without a prefix, comparable with earlier runs) and realistic ones
//! (`realistic/…`: varied names, conditions, regexes and constants, compressing about as
//! badly as real configs; at 10,000 pairs their gzip needs two ConfigMaps).
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
use hermes_compiler::synthetic::Variety;
use hermes_crds::api::{Tag, Trigger};

/// The operator's allocator, so the compile step is measured as the operator runs it.
#[global_allocator]
static GLOBAL: hermes_runtime::allocator::Allocator = hermes_runtime::allocator::Allocator;

const SIZES: [usize; 2] = [1_000, 10_000];
/// Each series: the prefix of its entries, and its objects.
const SERIES: [(&str, Variety); 2] = [("", Variety::Uniform), ("realistic/", Variety::REALISTIC)];

/// The objects as the API server would send them: one JSON document each.
struct Documents {
    tags: Vec<String>,
    triggers: Vec<String>,
}

fn scope(variety: Variety, pairs: usize) -> (Resources, Documents) {
    let resources = match variety.pairs(pairs, "hermes-bench") {
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

fn compile_and_encode(resources: &Resources) -> contract::EncodedConfig {
    let output = compile("bench", resources);
    match contract::encode(&output.config) {
        Ok(encoded) => encoded,
        Err(error) => panic!("the config does not encode: {error}"),
    }
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("operator_compile");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (prefix, variety) in SERIES {
        for pairs in SIZES {
            let (resources, documents) = scope(variety, pairs);
            let id = |name: &str| BenchmarkId::new(format!("{prefix}{name}"), pairs);
            group.bench_with_input(id("baseline/parse_json"), &documents, |b, documents| {
                b.iter(|| parse(black_box(documents)))
            });
            group.bench_with_input(id("compile"), &resources, |b, r| {
                b.iter(|| compile("bench", black_box(r)))
            });
            group.bench_with_input(id("compile_and_encode"), &resources, |b, r| {
                b.iter(|| compile_and_encode(black_box(r)))
            });
        }
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
    for (prefix, variety) in SERIES {
        for pairs in SIZES {
            ratio_line(prefix, variety, pairs);
        }
    }
}

/// One line: the first compile, the medians of parse, compile and compile + encode, their
/// ratios to parse, and the encoded config's sizes.
fn ratio_line(prefix: &str, variety: Variety, pairs: usize) {
    let (resources, documents) = scope(variety, pairs);
    let cold = median(1, || drop(black_box(compile("bench", &resources))));
    let parse_time = median(5, || drop(black_box(parse(&documents))));
    let compile_time = median(5, || drop(black_box(compile("bench", &resources))));
    let encode_time = median(5, || {
        black_box(compile_and_encode(&resources));
    });
    let encoded = compile_and_encode(&resources);
    let ratio = |time: Duration| time.as_secs_f64() / parse_time.as_secs_f64();
    println!(
        "{prefix}ratios/{pairs}: parse {parse_time:?}, compile cold {cold:?} ({:.2}x parse), \
         compile {compile_time:?} ({:.2}x parse), compile+encode {encode_time:?} \
         ({:.2}x parse); JSON {} bytes, stored {} bytes, {} ConfigMaps",
        ratio(cold),
        ratio(compile_time),
        ratio(encode_time),
        encoded.json_bytes,
        encoded.stored_bytes,
        encoded.shard_names("bench").len().max(1),
    );
}

criterion_group!(benches, ratios, bench_compile);
criterion_main!(benches);
