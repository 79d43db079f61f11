//! `hermes compile PATH... [--scope NAME]`: the gateway config the manifests compile to,
//! as the operator would write it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hermes_compiler::manifest;

/// Arguments of `hermes compile`; `hermes test` compiles from the same ones.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files or folders (read recursively for *.yaml and *.yml).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The scope recorded in the config (the namespace the manifests are for).
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub scope: String,
}

/// Print the config JSON on stdout. Invalid objects are left out of it and reported on
/// stderr as `hermes lint` reports them; the exit status is then 1.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = manifest::load_paths(&args.paths)?;
    let output = loaded.compile(&args.scope);
    let json = output
        .config
        .to_json()
        .context("cannot serialize the gateway config")?;
    println!("{json}");
    let problems = loaded.lint_lines(&output);
    for line in &problems {
        eprintln!("{line}");
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
