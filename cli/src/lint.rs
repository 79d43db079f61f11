//! `hermes lint PATH...`: every problem in the manifests, one line each, for a pull
//! request pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use hermes_compiler::manifest;

/// Arguments of `hermes lint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files or folders (read recursively for *.yaml and *.yml).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Print the problems; exit 0 when there are none, 1 otherwise.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let lines = manifest::lint(&args.paths)?;
    for line in &lines {
        println!("{line}");
    }
    if lines.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "hermes lint: {} problem{}",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::FAILURE)
    }
}
