//! Kubeconfig files for a test cluster, one per [`Identity`], and clients built from them
//! (so the files `kubectl`, the operator and the gateway use are the ones tests exercise).

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::ClusterError;
use crate::identity::Identity;

/// The kubeconfig file of `identity` in the cluster folder `dir`.
pub(crate) fn path_for(dir: &Path, identity: Identity) -> PathBuf {
    match identity {
        Identity::Admin => dir.join("kubeconfig"),
        other => dir.join(format!("kubeconfig-{}", other.key())),
    }
}

/// Writes one kubeconfig per identity (JSON, which kubectl reads as YAML).
pub(crate) fn write_all(dir: &Path, server: &str, ca_file: &Path) -> Result<(), ClusterError> {
    for identity in Identity::ALL {
        let name = identity.key();
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": "hermes-test",
                "cluster": { "server": server, "certificate-authority": ca_file },
            }],
            "users": [{ "name": name, "user": { "token": identity.token() } }],
            "contexts": [{ "name": name, "context": { "cluster": "hermes-test", "user": name } }],
            "current-context": name,
        });
        let path = path_for(dir, identity);
        std::fs::write(&path, config.to_string())
            .map_err(ClusterError::io(format!("writing {}", path.display())))?;
    }
    Ok(())
}

/// A client configured from the kubeconfig file at `path`.
pub(crate) async fn client_from(path: &Path) -> Result<Client, ClusterError> {
    let error = |message: String| ClusterError::Kubeconfig {
        path: path.to_owned(),
        message,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| error(e.to_string()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| error(e.to_string()))?;
    Ok(Client::try_from(config)?)
}
