//! The kubelet's command line: named `127.0.0.1` and serving on loopback (so the API
//! server reaches it for logs and exec without a DNS lookup), on containerd's CRI with
//! cgroupfs, and without the node-level resource enforcement this sandbox cannot do.

use std::path::Path;

/// The node's name, as the API server sees it.
pub const NODE_NAME: &str = "127.0.0.1";

/// The kubelet's arguments: `dir` holds its root and certificates, `port` is its API.
pub(crate) fn args(dir: &Path, socket: &Path, kubeconfig: &Path, port: u16) -> Vec<String> {
    vec![
        "--container-runtime=remote".to_owned(),
        format!("--container-runtime-endpoint=unix://{}", socket.display()),
        "--cgroup-driver=cgroupfs".to_owned(),
        "--fail-swap-on=false".to_owned(),
        "--cgroups-per-qos=false".to_owned(),
        "--enforce-node-allocatable=".to_owned(),
        "--eviction-hard=".to_owned(),
        "--image-gc-high-threshold=100".to_owned(),
        "--address=127.0.0.1".to_owned(),
        format!("--port={port}"),
        "--read-only-port=0".to_owned(),
        "--healthz-port=0".to_owned(),
        // The test API server has no client certificate for kubelets.
        "--anonymous-auth=true".to_owned(),
        "--authorization-mode=AlwaysAllow".to_owned(),
        format!("--root-dir={}", dir.join("root").display()),
        format!("--cert-dir={}", dir.join("certs").display()),
        format!("--hostname-override={NODE_NAME}"),
        format!("--kubeconfig={}", kubeconfig.display()),
    ]
}
