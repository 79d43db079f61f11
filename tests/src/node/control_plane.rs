//! The command lines of kube-scheduler and kube-controller-manager: no leader election
//! and no serving ports (one of each, on a test cluster), and in the controller-manager
//! the signing key and CA that give every namespace a usable `default` ServiceAccount.

use std::path::Path;

/// kube-scheduler's arguments.
pub(crate) fn scheduler_args(kubeconfig: &Path) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".to_owned(),
        "--port=0".to_owned(),
        "--secure-port=0".to_owned(),
    ]
}

/// kube-controller-manager's arguments; the cloud and node-IPAM controllers are off
/// (there is no cloud, and the CNI config owns the pod subnet).
pub(crate) fn controller_manager_args(
    kubeconfig: &Path,
    service_account_key: &Path,
    root_ca: &Path,
) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!(
            "--service-account-private-key-file={}",
            service_account_key.display()
        ),
        format!("--root-ca-file={}", root_ca.display()),
        "--controllers=*,-nodeipam,-service,-route,-cloud-node-lifecycle".to_owned(),
        "--leader-elect=false".to_owned(),
        "--port=0".to_owned(),
        "--secure-port=0".to_owned(),
    ]
}
