//! `hermes-gateway`: see `hermes_gateway::cli`.

use clap::Parser;

/// mimalloc instead of glibc's malloc: under load, glibc's `malloc`/`free` (with
/// `malloc_consolidate` and `unlink_chunk`) took about 16 % of the gateway's samples, a
/// third of its user-space time (`perf record` under `wrk` with the counting publisher);
/// the hit path allocates small, short-lived strings and maps per event. Built with
/// `no_thp`: with transparent huge pages on `madvise` (Debian's default) mimalloc asks
/// for huge pages and the idle gateway grew from 12 to 22 MiB resident. Why our own
/// `GlobalAlloc` over mimalloc: `hermes_gateway::allocator`.
#[global_allocator]
static GLOBAL: hermes_gateway::allocator::Allocator = hermes_gateway::allocator::Allocator;

#[derive(Parser)]
#[command(
    name = "hermes-gateway",
    version,
    about = "Hermes gateway: GA4 and Measurement Protocol hits → triggers → tags → Pub/Sub"
)]
struct Args {
    #[command(flatten)]
    gateway: hermes_gateway::cli::GatewayArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    hermes_runtime::init_logging(args.gateway.log_format);
    hermes_gateway::cli::run(args.gateway).await
}
