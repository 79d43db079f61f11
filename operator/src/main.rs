//! `hermes-operator`: see `hermes_operator::cli`.

use clap::Parser;

/// mimalloc instead of glibc's malloc, as in the gateway: `hermes_runtime::allocator`.
#[global_allocator]
static GLOBAL: hermes_runtime::allocator::Allocator = hermes_runtime::allocator::Allocator;

/// Reconciles Hermes Tags, Triggers and LookupTables into live gateway config.
#[derive(Parser, Debug)]
#[command(name = "hermes-operator", version)]
struct Args {
    #[command(flatten)]
    operator: hermes_operator::cli::OperatorArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    hermes_runtime::init_logging(args.operator.log_format);
    hermes_operator::cli::run(args.operator).await
}
