//! A real single node on top of a [`TestCluster`]: containerd, kubelet, kube-scheduler
//! and kube-controller-manager, so pods really run (probes, security contexts, mounted
//! service account tokens, in-cluster config). Only tests that need pods use it; the
//! fast tests keep their node-less cluster.
//!
//! Everything the node makes lives under its own folder (containerd's root and state,
//! runc's root, network namespaces, pod volumes) plus one bridge; the node's reaper
//! (`cleanup.sh`) removes all of it when the test binary lets go of the node, however
//! it ends. Provision with `tests/provision/k8s-node.sh`; needs root.

mod binaries;
mod containerd;
mod control_plane;
mod kubelet;
mod network;

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use tokio::sync::OnceCell;

pub use binaries::{NodeBinaries, PAUSE_IMAGE};
pub use containerd::ContainerdPaths;
pub use kubelet::NODE_NAME;
pub use network::PodNetwork;

use crate::cluster::TestCluster;
use crate::error::ClusterError;
use crate::launch::Profile;
use crate::ports::free_port;
use crate::process::{Reaper, ServerProcess};
use crate::wait::wait_for;

const CLEANUP_SCRIPT: &str = include_str!("cleanup.sh");
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A cluster with one `Ready` node named [`NODE_NAME`].
///
/// Dropping it (or the test binary ending, for [`TestNode::shared`]) stops the node
/// and removes everything it made.
pub struct TestNode {
    // Field order is drop order: the node's processes, then the reaper that cleans up
    // after them, then the cluster.
    processes: Vec<ServerProcess>,
    _reaper: Reaper,
    binaries: NodeBinaries,
    containerd: ContainerdPaths,
    network: PodNetwork,
    dir: PathBuf,
    cluster: TestCluster,
}

static SHARED: OnceCell<TestNode> = OnceCell::const_new();

impl TestNode {
    /// Starts a cluster set up for a node, then the node, and waits until the node is
    /// `Ready` (about 15 s).
    pub async fn start() -> Result<Self, ClusterError> {
        let binaries = NodeBinaries::locate()?;
        let dir = tempfile::Builder::new()
            .prefix("hermes-node-")
            .tempdir()
            .map_err(ClusterError::io("creating the node folder"))?
            .keep();
        let network = PodNetwork::for_this_process();
        let reaper = Reaper::spawn_running(&dir, CLEANUP_SCRIPT, &[&network.bridge])?;
        let keep_on_error = |error: ClusterError| {
            let _ = std::fs::write(dir.join("KEEP"), "");
            error
        };
        network.create_bridge().await.map_err(keep_on_error)?;
        let profile = Profile::WithNode {
            address: network.api_server(),
        };
        let cluster = TestCluster::start_with(profile)
            .await
            .map_err(keep_on_error)?;
        let containerd = ContainerdPaths::under(&dir);
        let started = start_processes(&binaries, &cluster, &dir, &containerd, &network, &reaper)
            .await
            .map_err(keep_on_error)?;
        tracing::info!(dir = %dir.display(), bridge = %network.bridge, "test node ready");
        Ok(Self {
            processes: started,
            _reaper: reaper,
            binaries,
            containerd,
            network,
            dir,
            cluster,
        })
    }

    /// The node shared by every test of this test binary, started on first use.
    pub async fn shared() -> Result<&'static Self, ClusterError> {
        SHARED.get_or_try_init(Self::start).await
    }

    /// The cluster the node belongs to.
    pub fn cluster(&self) -> &TestCluster {
        &self.cluster
    }

    /// The node folder: containerd, kubelet and the control plane's logs and state.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pod network (its gateway address reaches services on the machine).
    pub fn network(&self) -> &PodNetwork {
        &self.network
    }

    /// Loads an image archive (`podman save --format docker-archive`) into the node.
    pub async fn load_image(&self, archive: &Path) -> Result<(), ClusterError> {
        containerd::import_image(&self.binaries, &self.containerd, archive).await
    }

    /// The tails of the node's and the cluster's logs, for failure messages.
    pub fn failure_report(&self) -> String {
        let node = self
            .processes
            .iter()
            .map(|p| p.report(30))
            .collect::<Vec<_>>()
            .join("\n");
        format!("{node}\n{}", self.cluster.failure_report())
    }

    /// Keeps the node and cluster folders after the test binary ends (on failure).
    pub fn keep_artifacts(&self) {
        let _ = std::fs::write(self.dir.join("KEEP"), "");
        self.cluster.keep_artifacts();
    }
}

/// Starts containerd, the controller-manager, the scheduler and the kubelet, and waits
/// for the node to be `Ready`; the processes in drop order (kubelet first).
async fn start_processes(
    binaries: &NodeBinaries,
    cluster: &TestCluster,
    dir: &Path,
    containerd: &ContainerdPaths,
    network: &PodNetwork,
    reaper: &Reaper,
) -> Result<Vec<ServerProcess>, ClusterError> {
    network.write_config(&containerd.cni_conf_dir(), &containerd.cni_data_dir())?;
    let mut runtime = containerd::start(binaries, containerd, reaper).await?;
    let kubeconfig = cluster.kubeconfig_path();
    let mut controller_manager = ServerProcess::spawn(
        "kube-controller-manager",
        &binaries.kube_controller_manager,
        &control_plane::controller_manager_args(
            &kubeconfig,
            &cluster.service_account_key(),
            &cluster.ca_file(),
        ),
        dir.join("kube-controller-manager.log"),
        reaper,
    )?;
    let mut scheduler = ServerProcess::spawn(
        "kube-scheduler",
        &binaries.kube_scheduler,
        &control_plane::scheduler_args(&kubeconfig),
        dir.join("kube-scheduler.log"),
        reaper,
    )?;
    let kubelet_dir = dir.join("kubelet");
    let port = free_port().map_err(ClusterError::io("finding a free port"))?;
    let mut kubelet = ServerProcess::spawn(
        "kubelet",
        &binaries.kubelet,
        &kubelet::args(&kubelet_dir, &containerd.socket(), &kubeconfig, port),
        dir.join("kubelet.log"),
        reaper,
    )?;
    let ready = tokio::select! {
        ready = wait_node_ready(cluster) => ready,
        exited = kubelet.exited() => Err(exited),
        exited = scheduler.exited() => Err(exited),
        exited = controller_manager.exited() => Err(exited),
        exited = runtime.exited() => Err(exited),
    };
    if let Err(error) = ready {
        return Err(match error {
            ClusterError::Wait(source) => ClusterError::NotReady {
                source,
                report: [&kubelet, &runtime, &scheduler, &controller_manager]
                    .iter()
                    .map(|p| p.report(30))
                    .collect::<Vec<_>>()
                    .join("\n"),
            },
            other => other,
        });
    }
    Ok(vec![kubelet, scheduler, controller_manager, runtime])
}

async fn wait_node_ready(cluster: &TestCluster) -> Result<(), ClusterError> {
    let nodes: Api<Node> = Api::all(cluster.client().await?);
    wait_for(READY_TIMEOUT, || async {
        let node = nodes
            .get(NODE_NAME)
            .await
            .map_err(|e| format!("node {NODE_NAME}: {e}"))?;
        let conditions = node.status.and_then(|s| s.conditions).unwrap_or_default();
        let ready = conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .ok_or_else(|| format!("node {NODE_NAME} reports no Ready condition yet"))?;
        if ready.status == "True" {
            Ok(())
        } else {
            Err(format!(
                "node {NODE_NAME} not Ready: {}",
                ready.message.clone().unwrap_or_default()
            ))
        }
    })
    .await?;
    Ok(())
}
