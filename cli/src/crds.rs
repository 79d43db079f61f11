//! `hermes crds`: the CRDs, generated from the API types, for `kubectl apply -f -`.

use std::process::ExitCode;

/// Arguments of `hermes crds` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Print the three CRDs as one multi-document YAML stream.
pub fn run(_: &Args) -> anyhow::Result<ExitCode> {
    print!("{}", hermes_crds::crd::all_yaml()?);
    Ok(ExitCode::SUCCESS)
}
