//! containerd for one node: its own root, state, socket and runc root under the node
//! folder, so nothing it makes is shared with the machine, and the CRI settings this
//! kind of machine needs (see `../shared/reference/single-node-cluster.md`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ClusterError;
use crate::node::binaries::{NodeBinaries, PAUSE_IMAGE};
use crate::node::network::CNI_PLUGINS;
use crate::process::{Reaper, ServerProcess};
use crate::wait::wait_for;

/// The containerd namespace the CRI (and so the kubelet) uses.
const CRI_NAMESPACE: &str = "k8s.io";
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a node's containerd keeps everything.
#[derive(Clone, Debug)]
pub struct ContainerdPaths {
    dir: PathBuf,
}

impl ContainerdPaths {
    /// The layout under `node_dir/containerd`.
    pub fn under(node_dir: &Path) -> Self {
        Self {
            dir: node_dir.join("containerd"),
        }
    }

    /// The gRPC socket (CRI for the kubelet, and ctr).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// The CNI configuration folder the CRI reads.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("cni")
    }

    /// Where host-local keeps its IP allocations.
    pub fn cni_data_dir(&self) -> PathBuf {
        self.dir.join("cni-ipam")
    }

    fn config_file(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// The configuration: CRI with runc (not crun: hybrid cgroups) on cgroupfs,
    /// `restrict_oom_score_adj` (root here lacks `CAP_SYS_RESOURCE`), the local pause
    /// image, network namespaces mounted under the state folder.
    fn config(&self) -> String {
        let dir = self.dir.display();
        let conf_dir = self.cni_conf_dir();
        format!(
            r#"version = 2
root = "{dir}/root"
state = "{dir}/state"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{dir}/containerd.sock.ttrpc"
[debug]
  address = "{dir}/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{dir}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_PLUGINS}"
    conf_dir = "{conf}"
"#,
            socket = self.socket().display(),
            conf = conf_dir.display(),
        )
    }
}

/// Writes the configuration, starts containerd, waits for its socket and loads the
/// pause image.
pub(crate) async fn start(
    binaries: &NodeBinaries,
    paths: &ContainerdPaths,
    reaper: &Reaper,
) -> Result<ServerProcess, ClusterError> {
    std::fs::create_dir_all(&paths.dir).map_err(ClusterError::io(format!(
        "creating {}",
        paths.dir.display()
    )))?;
    let config = paths.config_file();
    std::fs::write(&config, paths.config())
        .map_err(ClusterError::io(format!("writing {}", config.display())))?;
    let args = [format!("--config={}", config.display())];
    let mut process = ServerProcess::spawn(
        "containerd",
        &binaries.containerd,
        &args,
        paths.dir.join("containerd.log"),
        reaper,
    )?;
    let socket = paths.socket();
    tokio::select! {
        ready = wait_for(SOCKET_TIMEOUT, || async {
            if socket.exists() { Ok(()) } else { Err("no containerd socket yet".to_owned()) }
        }) => ready?,
        exited = process.exited() => return Err(exited),
    }
    import_image(binaries, paths, &binaries.pause_image).await?;
    Ok(process)
}

/// Loads an image archive (`podman save --format docker-archive`) into the CRI's
/// namespace, where pods with `imagePullPolicy: Never` or `IfNotPresent` find it.
pub(crate) async fn import_image(
    binaries: &NodeBinaries,
    paths: &ContainerdPaths,
    archive: &Path,
) -> Result<(), ClusterError> {
    let socket = paths.socket();
    let args = [
        "--address".as_ref(),
        socket.as_os_str(),
        "--namespace".as_ref(),
        CRI_NAMESPACE.as_ref(),
        "images".as_ref(),
        "import".as_ref(),
        archive.as_os_str(),
    ];
    let output = tokio::process::Command::new(&binaries.ctr)
        .args(args)
        .output()
        .await
        .map_err(ClusterError::io("running ctr"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ClusterError::Command {
            command: format!("ctr images import {}", archive.display()),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}
