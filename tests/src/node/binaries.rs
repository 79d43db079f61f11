//! Finding what a test node runs: the Kubernetes node binaries next to the API server's
//! (`tests/provision/k8s-node.sh` builds them), containerd and ctr from Debian, and the
//! archive of the pause image.

use std::path::{Path, PathBuf};

use crate::binaries::cache_dir;
use crate::error::ClusterError;

/// The sandbox image the provisioning script builds; containerd's `sandbox_image`.
pub const PAUSE_IMAGE: &str = "localhost/hermes/pause:3.2";

/// The programs and the image archive a [`super::TestNode`] needs.
#[derive(Clone, Debug)]
pub struct NodeBinaries {
    /// The node agent.
    pub kubelet: PathBuf,
    /// Places pods on the node.
    pub kube_scheduler: PathBuf,
    /// Runs Deployments, ReplicaSets and service account tokens.
    pub kube_controller_manager: PathBuf,
    /// The container runtime (CRI).
    pub containerd: PathBuf,
    /// containerd's client, to load images.
    pub ctr: PathBuf,
    /// [`PAUSE_IMAGE`] as a docker archive.
    pub pause_image: PathBuf,
}

impl NodeBinaries {
    /// Looks in `$HERMES_CACHE_DIR` (default `/var/cache/hermes/k8s`) and on the system
    /// paths; the error names what is missing and how to provision it.
    pub fn locate() -> Result<Self, ClusterError> {
        let cache = cache_dir();
        let bin = cache.join("bin");
        let system = Path::new("/usr/bin");
        let node = Self {
            kubelet: bin.join("kubelet"),
            kube_scheduler: bin.join("kube-scheduler"),
            kube_controller_manager: bin.join("kube-controller-manager"),
            containerd: system.join("containerd"),
            ctr: system.join("ctr"),
            pause_image: cache.join("images").join("pause.tar"),
        };
        let missing: Vec<String> = [
            &node.kubelet,
            &node.kube_scheduler,
            &node.kube_controller_manager,
            &node.containerd,
            &node.ctr,
            &node.pause_image,
        ]
        .iter()
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
        if missing.is_empty() {
            Ok(node)
        } else {
            Err(ClusterError::MissingNode {
                missing: missing.join(", "),
            })
        }
    }
}
