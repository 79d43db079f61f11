//! `hermes operator`: run the operator (same flags as `hermes-operator`).

use std::process::ExitCode;

use hermes_operator::cli::{OperatorArgs, run as run_operator};

/// Flags of `hermes operator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    operator: OperatorArgs,
}

/// Reconcile until SIGTERM / Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    hermes_runtime::init_logging(args.operator.log_format);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run_operator(args.operator))?;
    Ok(ExitCode::SUCCESS)
}
