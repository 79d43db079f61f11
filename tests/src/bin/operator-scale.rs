//! `operator-scale`: the operator at scale, measured (`scripts/operator-scale` builds and
//! runs it; results in `docs/performance.md`). For each size, in a fresh namespace of the
//! real test environment (etcd, kube-apiserver, Pub/Sub emulator) with `hermes-operator`
//! and `hermes-gateway --cluster` as processes (the binaries next to this one):
//!
//! - apply that many Tag + Trigger pairs (server-side apply, in parallel), time until every
//!   one is `Ready` (`Live`) and the gateway serves the config;
//! - the config's size (JSON, gzip, ConfigMaps) and the compile step's time (compile and
//!   encode the same objects in this process, median of 5);
//! - one changed Tag until the gateway serves it, `--changes` times: p50, p99, max;
//! - the operator's peak RSS (`VmHWM`);
//! - the hit ([`Variety::gtag_hit`]) of the Tag that comes last in the config (farthest into
//!   its JSON) sent to the gateway, until its message arrives from the emulator.
//!
//! `operator-scale [--pairs 1000,10000] [--changes 20] [--variety uniform|realistic]
//! [--seed N]`; prints a Markdown table. `uniform` (the default) are the four shapes of
//! `examples/`, `realistic` the varied Tags of `hermes_compiler::synthetic::realistic`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hermes_compiler::compile::compile;
use hermes_compiler::contract;
use hermes_compiler::synthetic::{Variety, realistic};
use hermes_tests::fixtures::PROJECT;
use hermes_tests::scale;
use hermes_tests::stack::Stack;

/// Generous for 10,000 pairs on a loaded machine.
const ALL_LIVE_WITHIN: Duration = Duration::from_secs(900);

struct Options {
    pairs: Vec<usize>,
    changes: usize,
    variety: Variety,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        pairs: vec![1_000, 10_000],
        changes: 20,
        variety: Variety::Uniform,
    };
    let mut seed = realistic::DEFAULT_SEED;
    let mut realistic = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--pairs" => {
                options.pairs = value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--pairs {value}"))?;
            }
            "--changes" => options.changes = value.parse().context("--changes")?,
            "--variety" => {
                realistic = match value.as_str() {
                    "uniform" => false,
                    "realistic" => true,
                    other => bail!("--variety {other}: uniform or realistic"),
                }
            }
            "--seed" => seed = value.parse().context("--seed")?,
            other => bail!(
                "unknown option {other} (--pairs N,M --changes N --variety uniform|realistic --seed N)"
            ),
        }
    }
    if realistic {
        options.variety = Variety::Realistic { seed };
    }
    Ok(options)
}

/// What one size measured.
struct Measured {
    pairs: usize,
    all_live: Duration,
    compile: Duration,
    json_bytes: usize,
    stored_bytes: usize,
    shards: usize,
    last_tag_served: Duration,
    change_p50: Duration,
    change_p99: Duration,
    change_max: Duration,
    operator_peak_rss_kib: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hermes_tests::install_crypto_provider();
    let options = options()?;
    let load_before = load_average();
    let mut results = Vec::new();
    for &pairs in &options.pairs {
        eprintln!("operator-scale: {pairs} pairs");
        results.push(measure(options.variety, pairs, options.changes).await?);
    }
    println!(
        "{:?}; load average before: {load_before}; after: {}",
        options.variety,
        load_average()
    );
    println!();
    println!(
        "| Tags (+ Triggers) | apply → all Ready | compile step | config JSON | gzip | ConfigMaps: config + shards | hit for the last Tag published | changed Tag served p50 / p99 / max | operator peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {:.1} s | {:.0} ms | {:.1} MB | {:.2} MB | 1 + {} | {:.0} ms | {:.0} / {:.0} / {:.0} ms | {:.0} MiB |",
            m.pairs,
            m.all_live.as_secs_f64(),
            m.compile.as_secs_f64() * 1e3,
            m.json_bytes as f64 / 1e6,
            m.stored_bytes as f64 / 1e6,
            m.shards,
            m.last_tag_served.as_secs_f64() * 1e3,
            m.change_p50.as_secs_f64() * 1e3,
            m.change_p99.as_secs_f64() * 1e3,
            m.change_max.as_secs_f64() * 1e3,
            m.operator_peak_rss_kib as f64 / 1024.0,
        );
    }
    Ok(())
}

async fn measure(variety: Variety, pairs: usize, changes: usize) -> anyhow::Result<Measured> {
    let (compile_time, json_bytes, stored_bytes) = compile_step(variety, pairs)?;
    let stack = Stack::start("scale", 1).await;
    scale::create_topics(&stack, variety).await?;
    let started = Instant::now();
    scale::apply_pairs(&stack, variety, pairs, 1).await?;
    let applied = started.elapsed();
    let mut hash = scale::wait_all_live(&stack, pairs, ALL_LIVE_WITHIN).await?;
    let all_live = started.elapsed();
    eprintln!("  applied in {applied:?}, all live after {all_live:?}");
    let written = scale::config_size(&stack).await?;
    let last = scale::last_tag_with_a_hit(variety, 0..pairs).context("no pair has a gtag hit")?;
    let (_, last_tag_served) = scale::message_of_pair(&stack, variety, last).await?;
    eprintln!("  the hit of pair {last} published after {last_tag_served:?}");
    let mut took = Vec::with_capacity(changes);
    for change in 0..changes {
        // Spread over the four shapes; version 2, 3, … so each is a real change.
        let version = 2 + change as u64;
        let (next, time) =
            scale::change_tag_until_served(&stack, variety, change * 7 % pairs, version, &hash)
                .await?;
        hash = next;
        took.push(time);
    }
    took.sort();
    let percentile = |p: f64| {
        let index = ((took.len() as f64 * p).ceil() as usize).clamp(1, took.len().max(1)) - 1;
        took.get(index).copied().unwrap_or_default()
    };
    let operator = stack
        .operators
        .first()
        .context("the stack has an operator")?;
    Ok(Measured {
        pairs,
        all_live,
        compile: compile_time,
        json_bytes,
        stored_bytes,
        shards: written.shards,
        last_tag_served,
        change_p50: percentile(0.5),
        change_p99: percentile(0.99),
        change_max: took.last().copied().unwrap_or_default(),
        operator_peak_rss_kib: operator.id().map_or(0, peak_rss_kib),
    })
}

/// The operator's compile step on `pairs` pairs in this process: median of 5 runs of
/// compile + encode; the encoded sizes (JSON, stored).
fn compile_step(variety: Variety, pairs: usize) -> anyhow::Result<(Duration, usize, usize)> {
    let resources = variety.pairs(pairs, PROJECT)?;
    let mut times = Vec::new();
    let mut encoded = None;
    for _ in 0..5 {
        let started = Instant::now();
        let output = compile("scale", &resources);
        let this = contract::encode(&output.config)?;
        times.push(started.elapsed());
        encoded = Some(this);
    }
    times.sort();
    let encoded = encoded.context("compiled at least once")?;
    Ok((
        times[times.len() / 2],
        encoded.json_bytes,
        encoded.stored_bytes,
    ))
}

/// `VmHWM` of process `pid`, in KiB (0 when unreadable).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
