//! `hermes gateway`: run the gateway (same flags as `hermes-gateway`), e.g.
//! `hermes gateway --manifests examples/` next to the Pub/Sub emulator.

use std::process::ExitCode;

use hermes_gateway::cli::{GatewayArgs, run as run_gateway};

/// Flags of `hermes gateway`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// Serve until SIGTERM / Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    hermes_runtime::init_logging(args.gateway.log_format);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run_gateway(args.gateway))?;
    Ok(ExitCode::SUCCESS)
}
