//! `helm install|upgrade|uninstall` of `charts/hermes` with the real Helm v4 engine
//! (`charts/tests/helm_release.py`, PyPI helm-python-sdk, in the Python environment
//! `scripts/python-env` makes), as a user would run it against a test cluster.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::ClusterError;

/// The Python of `$HERMES_VENV` (default `/var/cache/hermes/venv`).
pub fn python() -> PathBuf {
    let venv = std::env::var("HERMES_VENV").unwrap_or_else(|_| "/var/cache/hermes/venv".into());
    PathBuf::from(venv).join("bin/python")
}

/// Runs `action` (`install`, `upgrade`, `uninstall`) for release `release` in
/// `namespace` with `values`; the release's name, revision and status.
pub async fn release(
    kubeconfig: &Path,
    namespace: &str,
    release: &str,
    action: &str,
    values: &Value,
) -> Result<Value, ClusterError> {
    let python = python();
    if !python.exists() {
        return Err(ClusterError::MissingPython { path: python });
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/tests/helm_release.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(action)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--namespace", namespace, "--release", release])
        .args(["--values", &values.to_string()])
        .output()
        .await
        .map_err(ClusterError::io(format!("running {}", python.display())))?;
    if !output.status.success() {
        return Err(ClusterError::Command {
            command: format!("helm {action} {release}"),
            status: output.status.to_string(),
            stderr: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(ClusterError::HelmSummary)
}
