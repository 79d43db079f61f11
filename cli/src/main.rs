//! `hermes`: the command-line tool for GitOps pipelines and operators of Hermes.
//!
//! Thin on purpose: each subcommand is a module with an `Args` struct and a `run`
//! function; the work happens in the library crates. Add a subcommand by adding a
//! module and one variant to [`Command`].

mod compile;
mod crds;
mod gateway;
mod lint;
mod lookup;
mod operator;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The allocator of `hermes-gateway` and `hermes-operator`, which this command can also
/// run: `hermes_runtime::allocator`.
#[global_allocator]
static GLOBAL: hermes_runtime::allocator::Allocator = hermes_runtime::allocator::Allocator;

/// Server-side tagging on Kubernetes: lint, test and compile Tag, Trigger and LookupTable
/// manifests, print the CRDs.
#[derive(Debug, Parser)]
#[command(name = "hermes", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check manifests (files or folders): exit 0 when valid, 1 with one line per problem
    /// on stdout (FILE: Kind/name: FIELD: MESSAGE), 2 when a path cannot be read.
    Lint(lint::Args),
    /// Compile manifests into the gateway config and print it as JSON.
    Compile(compile::Args),
    /// Print the CustomResourceDefinitions of Tag, Trigger and LookupTable as YAML.
    Crds(crds::Args),
    /// Run the gateway: collect hits, fire tags, publish to Pub/Sub.
    Gateway(Box<gateway::Args>),
    /// Lookup table automation: `hermes lookup import NAME --csv FILE [-n NAMESPACE]`.
    Lookup(lookup::Args),
    /// Run the operator: reconcile Tags, Triggers and LookupTables into live config.
    Operator(Box<operator::Args>),
    /// Run the test files in the paths (*.test.yaml, *.test.yml, found recursively)
    /// against the manifests in the same paths, offline: exit 0 when all pass, 1 with
    /// expected vs got per failure, 2 when a path or test file cannot be read.
    Test(compile::Args),
}

/// Exit status for usage and I/O errors (clap uses it for usage errors too).
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lint(args) => lint::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Crds(args) => crds::run(&args),
        Command::Gateway(args) => gateway::run(*args),
        Command::Lookup(args) => lookup::run(&args),
        Command::Operator(args) => operator::run(*args),
        Command::Test(args) => test::run(&args),
    };
    result.unwrap_or_else(|error| {
        eprintln!("hermes: {error:#}");
        ExitCode::from(EXIT_ERROR)
    })
}
