//! Finding etcd, kube-apiserver and kubectl: `KUBEBUILDER_ASSETS` (envtest's convention),
//! else the cache folder `tests/provision/k8s-binaries.sh` fills.

use std::path::{Path, PathBuf};

use crate::error::ClusterError;

/// The cache folder when `HERMES_CACHE_DIR` is not set.
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/hermes/k8s";

/// The three executables a test cluster runs.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The etcd server.
    pub etcd: PathBuf,
    /// The Kubernetes API server.
    pub kube_apiserver: PathBuf,
    /// kubectl, for tests that check what users see.
    pub kubectl: PathBuf,
}

impl Binaries {
    /// Looks in `$KUBEBUILDER_ASSETS`, then in `$HERMES_CACHE_DIR/bin` (default
    /// `/var/cache/hermes/k8s/bin`); the error says how to provision them.
    pub fn locate() -> Result<Self, ClusterError> {
        let mut folders = Vec::new();
        if let Some(assets) = std::env::var_os("KUBEBUILDER_ASSETS").filter(|v| !v.is_empty()) {
            folders.push(PathBuf::from(assets));
        }
        folders.push(cache_dir().join("bin"));
        let mut missing = Vec::new();
        for folder in &folders {
            match Self::in_folder(folder) {
                Ok(binaries) => return Ok(binaries),
                Err(names) => missing = names,
            }
        }
        Err(ClusterError::MissingBinaries {
            missing: missing.join(", "),
            searched: folders
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" and "),
        })
    }

    fn in_folder(folder: &Path) -> Result<Self, Vec<&'static str>> {
        let find = |name: &'static str| {
            let path = folder.join(name);
            is_executable(&path).then_some(path).ok_or(name)
        };
        let (etcd, kube_apiserver, kubectl) =
            (find("etcd"), find("kube-apiserver"), find("kubectl"));
        match (etcd, kube_apiserver, kubectl) {
            (Ok(etcd), Ok(kube_apiserver), Ok(kubectl)) => Ok(Self {
                etcd,
                kube_apiserver,
                kubectl,
            }),
            (a, b, c) => Err([a.err(), b.err(), c.err()].into_iter().flatten().collect()),
        }
    }
}

/// `$HERMES_CACHE_DIR`, or [`DEFAULT_CACHE_DIR`].
pub fn cache_dir() -> PathBuf {
    std::env::var_os("HERMES_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
