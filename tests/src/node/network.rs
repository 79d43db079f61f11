//! The node's pod network: a Linux bridge with a private /24, through the CNI `bridge`
//! and `host-local` plugins Debian ships. containerd's CRI reads the config; the node
//! turns `Ready` only once it sees one.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::error::ClusterError;

/// Debian's CNI plugins.
pub const CNI_PLUGINS: &str = "/usr/lib/cni";

/// The bridge and subnet of one node; derived from the process id so that nodes of
/// test binaries running at the same time do not share them.
#[derive(Clone, Debug)]
pub struct PodNetwork {
    /// The bridge's interface name (deleted when the node goes).
    pub bridge: String,
    /// The subnet's third octet: pods get `10.244.N.2…`.
    octet: u8,
}

impl PodNetwork {
    /// The network of this test process.
    pub fn for_this_process() -> Self {
        let octet = u8::try_from(std::process::id() % 200 + 20).unwrap_or(20);
        Self {
            bridge: format!("hermes{octet}"),
            octet,
        }
    }

    /// The bridge's own address: where a pod reaches a service that listens on the
    /// machine's every address (e.g. the Pub/Sub emulator).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, self.octet, 1)
    }

    /// The API server's address (and the `kubernetes` Service's ClusterIP), also on
    /// the bridge: see [`crate::launch::Profile::WithNode`].
    pub fn api_server(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 96, self.octet, 1)
    }

    /// Creates the bridge, up, with the gateway and API server addresses (the CNI
    /// plugin finds it and adds the pods); it must exist before the API server binds.
    pub async fn create_bridge(&self) -> Result<(), ClusterError> {
        let gateway = format!("{}/24", self.gateway());
        let api_server = format!("{}/32", self.api_server());
        let bridge = self.bridge.as_str();
        for args in [
            &["link", "add", "name", bridge, "type", "bridge"][..],
            &["addr", "add", &gateway, "dev", bridge],
            &["addr", "add", &api_server, "dev", bridge],
            &["link", "set", bridge, "up"],
        ] {
            let output = tokio::process::Command::new("ip")
                .args(args)
                .output()
                .await
                .map_err(ClusterError::io("running ip (iproute2)"))?;
            if !output.status.success() {
                return Err(ClusterError::Command {
                    command: format!("ip {}", args.join(" ")),
                    status: output.status.to_string(),
                    stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Writes the conflist into `conf_dir`, with the IP allocations kept under
    /// `data_dir`.
    pub fn write_config(&self, conf_dir: &Path, data_dir: &Path) -> Result<(), ClusterError> {
        std::fs::create_dir_all(conf_dir)
            .map_err(ClusterError::io(format!("creating {}", conf_dir.display())))?;
        let config = serde_json::json!({
            "cniVersion": "0.4.0",
            "name": self.bridge,
            "plugins": [{
                "type": "bridge",
                "bridge": self.bridge,
                "isGateway": true,
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "dataDir": data_dir,
                    "ranges": [[{ "subnet": format!("10.244.{}.0/24", self.octet) }]],
                    "routes": [{ "dst": "0.0.0.0/0" }],
                },
            }],
        });
        let path = conf_dir.join("10-hermes.conflist");
        std::fs::write(&path, config.to_string())
            .map_err(ClusterError::io(format!("writing {}", path.display())))
    }
}
