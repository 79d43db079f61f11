//! Running the real `kubectl` against a test cluster, as users would.

use std::path::Path;
use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt;

use crate::error::ClusterError;

/// Runs `kubectl --kubeconfig KUBECONFIG ARGS…` with `stdin` fed in (if any) and returns
/// its output whatever the exit status. Discovery is cached per cluster, so a port reused
/// from another run never serves stale resource lists.
pub(crate) async fn run(
    kubectl: &Path,
    kubeconfig: &Path,
    cache_dir: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<Output, ClusterError> {
    let mut command = tokio::process::Command::new(kubectl);
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache_dir)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(ClusterError::io(format!("starting {}", kubectl.display())))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .await
            .map_err(ClusterError::io("writing kubectl's stdin"))?;
    }
    child
        .wait_with_output()
        .await
        .map_err(ClusterError::io("running kubectl"))
}

/// Standard output of a successful run; a [`ClusterError::Command`] with stderr otherwise.
pub(crate) fn success(args: &[&str], output: Output) -> Result<String, ClusterError> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(ClusterError::Command {
            command: format!("kubectl {}", args.join(" ")),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}
