//! Writes the Hermes CRDs into `charts/hermes/crds/` (or the folder given as the first
//! argument): `cargo run -p hermes-crds --bin crdgen`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/hermes/crds"));
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("crdgen: cannot create {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    for generated in hermes_crds::crd::crds() {
        let path = dir.join(&generated.file_name);
        let yaml = match hermes_crds::crd::to_yaml(&generated.crd) {
            Ok(yaml) => yaml,
            Err(error) => {
                eprintln!("crdgen: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(error) = std::fs::write(&path, yaml) {
            eprintln!("crdgen: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
