//! Why the test environment could not do what a test asked.

use std::path::PathBuf;

use crate::wait::WaitError;

/// An error of the test cluster: startup, clients, kubectl, CRDs, namespaces. Its `Debug`
/// is its message, so `.unwrap()` in a test prints the hint and log tails readably.
#[derive(thiserror::Error)]
pub enum ClusterError {
    /// etcd, kube-apiserver or kubectl is not provisioned.
    #[error(
        "{missing} not found in {searched}. Provision the binaries once with \
         `tests/provision/k8s-binaries.sh` (builds kube-apiserver, ~5 min) and \
         `export KUBEBUILDER_ASSETS=$(tests/provision/k8s-binaries.sh)`"
    )]
    MissingBinaries {
        /// The binaries that were missing.
        missing: String,
        /// The folders looked in.
        searched: String,
    },
    /// A part of the test node is not provisioned.
    #[error(
        "the test node is not provisioned ({missing} missing): run \
         `tests/provision/k8s-node.sh` once (builds kubelet, kube-scheduler and \
         kube-controller-manager, ~10-30 min, and installs containerd)"
    )]
    MissingNode {
        /// The files that were missing.
        missing: String,
    },
    /// The Python environment with the Helm engine is missing.
    #[error("{} is missing: run scripts/python-env (scripts/test does)", path.display())]
    MissingPython {
        /// Where Python was looked for.
        path: PathBuf,
    },
    /// helm_release.py printed something other than its JSON summary.
    #[error("reading helm_release.py's release summary: {0}")]
    HelmSummary(#[source] serde_json::Error),
    /// A binary of this workspace has not been built.
    #[error("{} is missing: run `cargo build --workspace --bins` (scripts/test does)", path.display())]
    MissingWorkspaceBinary {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A server process exited while the cluster was starting.
    #[error("{process} exited during startup ({status}); log {log}:\n{tail}")]
    ProcessExited {
        /// `etcd` or `kube-apiserver`.
        process: &'static str,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// The cluster did not become ready in time.
    #[error("cluster did not become ready: {source}\n{report}")]
    NotReady {
        /// The wait that timed out.
        #[source]
        source: WaitError,
        /// Log tails of the server processes.
        report: String,
    },
    /// A wait timed out.
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// A kubeconfig could not be read or turned into a client config.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Objects to apply could not be written as JSON for kubectl.
    #[error("writing the objects to apply as JSON: {0}")]
    Manifest(#[source] serde_json::Error),
    /// A command (kubectl, openssl) ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error.
        stderr: String,
    },
}

impl std::fmt::Debug for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl ClusterError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| ClusterError::Io { what, source }
    }
}
