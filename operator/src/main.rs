//! `hermes-operator`: see `hermes_operator::cli`.

use clap::Parser;

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
