//! `hermes lookup import NAME --csv FILE [-n NAMESPACE]`: load a `key,value` feed (e.g.
//! the shop back end's SKU,threshold export) into a LookupTable by server-side apply.
//! The CSV is validated first; problems are printed as `FILE:LINE: message`.

use std::path::PathBuf;
use std::process::ExitCode;

use hermes_operator::lookup_import::{self, Header, ImportError};

/// `hermes lookup …`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LookupCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LookupCommand {
    /// Replace a LookupTable's rows with a CSV file's (inline up to 500 rows, else in a
    /// ConfigMap `<table>-rows`; a table with a ConfigMap source gets that key updated).
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The LookupTable's name.
    name: String,
    /// The CSV file: `key,value` per line; a first line `key,value` is a header.
    #[arg(long, value_name = "FILE")]
    csv: PathBuf,
    /// The first line is a header whatever it says (e.g. `SKU,threshold`): skip it.
    #[arg(long)]
    header: bool,
    /// The namespace. Default: the kubeconfig context's namespace.
    #[arg(long, short = 'n')]
    namespace: Option<String>,
}

/// Import; exit 1 when the CSV is invalid (one line per problem on stderr).
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let LookupCommand::Import(import) = &args.command;
    hermes_runtime::install_crypto_provider();
    let runtime = tokio::runtime::Runtime::new()?;
    let header = if import.header {
        Header::Skip
    } else {
        Header::Auto
    };
    let result = runtime.block_on(lookup_import::import_file(
        &import.csv,
        header,
        &import.name,
        import.namespace.as_deref(),
    ));
    match result {
        Ok(report) => {
            println!("LookupTable {}: {report}", import.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(ImportError::Csv(problems)) => {
            for problem in problems {
                eprintln!("{problem}");
            }
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.into()),
    }
}
