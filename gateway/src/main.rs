//! `hermes-gateway`: see `hermes_gateway::cli`.

use clap::Parser;

/// mimalloc instead of glibc's malloc: `hermes_runtime::allocator`.
#[global_allocator]
static GLOBAL: hermes_runtime::allocator::Allocator = hermes_runtime::allocator::Allocator;

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
