//! `hermes-bench-rate`: sends the benchmark's hit mix at a constant request rate and
//! prints the latency percentiles as one JSON object. `scripts/load-bench` uses it for
//! "p99 at half of saturation", which wrk cannot do (wrk sends as fast as it can; Debian
//! has no wrk2).
//!
//!   hermes-bench-rate --target 127.0.0.1:8080 --mix bench/hits/mix.tsv --rate 5000
//!
//! Exits non-zero when a connection fails or a response is not 2xx.

mod arrival;
mod connection;
mod latency;
mod mix;
mod pacer;
mod timeline;

use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::connection::{Outcome, Request, Schedule};
use crate::latency::Percentiles;

/// Flags of the constant-rate load generator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server to load (host:port).
    #[arg(long)]
    target: SocketAddr,
    /// Hit mix file (`bench/hits/mix.tsv` format).
    #[arg(long)]
    mix: PathBuf,
    /// Requests per second, over all connections.
    #[arg(long)]
    rate: f64,
    /// Keep-alive connections sharing the rate.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Seconds to send for.
    #[arg(long, default_value_t = 15.0)]
    duration: f64,
    /// Also write every request to this file, tab-separated in the order sent:
    /// milliseconds from the start, the server's and the as-read latency in µs, the
    /// hit's path. Shows whether the slow requests come together (a stall) or spread.
    #[arg(long)]
    timeline: Option<PathBuf>,
}

/// The run's result, printed as JSON.
#[derive(Debug, Serialize)]
struct Report {
    target_rate: f64,
    achieved_rate: f64,
    requests: usize,
    non_2xx: u64,
    /// As the generator saw it: from each request's due time to reading its response.
    latency_us: Percentiles,
    /// As the server answered: the generator's own stalls left out (`connection.rs`).
    server_latency_us: Percentiles,
    /// Responses without a kernel receive timestamp (timed as read instead).
    untimestamped: u64,
}

// One thread: the generator is pinned to its own core and must not compete with the server.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(args.rate > 0.0 && args.rate.is_finite()) || args.connections == 0 {
        bail!("--rate and --connections must be positive");
    }
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        bail!("--duration must be a positive number of seconds");
    }
    let host = args.target.to_string();
    let requests: Arc<[Request]> = mix::read_mix(&args.mix)?
        .iter()
        .map(|hit| Request::render(hit, &host))
        .collect();
    let next = Arc::new(AtomicUsize::new(0));
    let duration = Duration::from_secs_f64(args.duration);
    // Connections take turns: connection i sends at i/rate, then every connections/rate.
    let interval = Duration::from_secs_f64(f64::from(args.connections) / args.rate);
    let lead = Duration::from_millis(100);
    let start = Instant::now() + lead;
    // The start on CLOCK_MONOTONIC (what `Instant` reads), so the timeline lines up with
    // a profile recorded with `perf record -k CLOCK_MONOTONIC`.
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let start_monotonic = now.tv_sec as f64 + now.tv_nsec as f64 / 1e9 + lead.as_secs_f64();
    let mut connections = JoinSet::new();
    for i in 0..args.connections {
        let schedule = Schedule {
            start,
            offset: Duration::from_secs_f64(f64::from(i) / args.rate),
            interval,
            end: start + duration,
        };
        connections.spawn(connection::run(
            args.target,
            requests.clone(),
            next.clone(),
            schedule,
        ));
    }
    let mut total = Outcome::default();
    while let Some(joined) = connections.join_next().await {
        let outcome = joined
            .context("a connection task panicked")?
            .context("a connection failed")?;
        total.merge(outcome);
    }
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(path) = &args.timeline {
        File::create(path)
            .and_then(|file| {
                timeline::write(BufWriter::new(file), &total, &requests, start_monotonic)
            })
            .with_context(|| format!("writing the timeline to {}", path.display()))?;
    }
    let requests = total.responses.len();
    let report = Report {
        target_rate: args.rate,
        achieved_rate: requests as f64 / elapsed,
        requests,
        non_2xx: total.non_2xx,
        latency_us: latency::percentiles(total.responses.iter().map(|r| r.latency_us).collect()),
        server_latency_us: latency::percentiles(
            total
                .responses
                .iter()
                .map(|r| r.server_latency_us)
                .collect(),
        ),
        untimestamped: total.untimestamped,
    };
    println!("{}", serde_json::to_string(&report)?);
    if report.non_2xx > 0 {
        bail!("{} responses were not 2xx", report.non_2xx);
    }
    Ok(())
}
