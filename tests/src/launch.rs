//! Starting etcd and kube-apiserver on free loopback ports, in a fresh folder, and
//! waiting until the API serves: `/readyz` is `ok` and the `default` namespace exists.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use crate::binaries::Binaries;
use crate::error::ClusterError;
use crate::identity::{Identity, token_auth_file};
use crate::kubeconfig;
use crate::ports::free_port;
use crate::process::{Reaper, ServerProcess};
use crate::wait::wait_for;

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const ATTEMPTS: usize = 3;

/// A started, ready cluster's parts. Field order is drop order: apiserver, etcd, reaper.
pub(crate) struct Launched {
    pub(crate) dir: PathBuf,
    pub(crate) server: String,
    /// The API server first, then etcd; behind a lock so that the API server can be
    /// stopped and started again on the same etcd.
    pub(crate) processes: std::sync::Mutex<Vec<ServerProcess>>,
    /// How the API server was started, to start it again.
    pub(crate) apiserver_args: Vec<String>,
    /// It cleans up after the servers on drop, and records restarted ones.
    pub(crate) reaper: Reaper,
}

/// What the API server is set up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    /// No node: on a free loopback port, with the ServiceAccount admission plugin off (no
    /// token controller runs, so pods could never get their service account).
    ApiOnly,
    /// A kubelet joins (see [`crate::node`]). The API server listens on `address`:443
    /// and `address` (`A.B.C.1`) is the first address of the service range, so it is the
    /// `kubernetes` Service's ClusterIP: pods reach it through their default route with
    /// no kube-proxy (the node puts `address` on its bridge). Pods get service account
    /// tokens, and the API server reaches the kubelet by the node's name without DNS.
    WithNode {
        /// The API server's address, on the node's bridge.
        address: Ipv4Addr,
    },
}

impl Profile {
    /// The listening address and port (ApiOnly: a free loopback port).
    fn listen(self) -> Result<(Ipv4Addr, u16), ClusterError> {
        match self {
            Profile::ApiOnly => Ok((
                Ipv4Addr::LOCALHOST,
                free_port().map_err(ClusterError::io("finding a free port"))?,
            )),
            Profile::WithNode { address } => Ok((address, 443)),
        }
    }

    fn apiserver_args(self, address: Ipv4Addr) -> Vec<String> {
        match self {
            Profile::ApiOnly => vec![
                "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
                "--disable-admission-plugins=ServiceAccount".to_owned(),
            ],
            Profile::WithNode { .. } => vec![
                {
                    let [a, b, c, _] = address.octets();
                    format!("--service-cluster-ip-range={a}.{b}.{c}.0/24")
                },
                "--kubelet-preferred-address-types=Hostname,InternalIP".to_owned(),
            ],
        }
    }
}

/// Starts a cluster, retrying with new ports when a server exits early (a port taken
/// between [`free_port`] and its bind).
pub(crate) async fn launch(
    binaries: &Binaries,
    profile: Profile,
) -> Result<Launched, ClusterError> {
    let mut attempt = 1;
    loop {
        match launch_once(binaries, profile).await {
            Err(error @ ClusterError::ProcessExited { .. }) if attempt < ATTEMPTS => {
                tracing::warn!(%error, attempt, "test cluster failed to start; retrying");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn launch_once(binaries: &Binaries, profile: Profile) -> Result<Launched, ClusterError> {
    let dir = tempfile::Builder::new()
        .prefix("hermes-cluster-")
        .tempdir()
        .map_err(ClusterError::io("creating the cluster folder"))?
        .keep();
    let reaper = Reaper::spawn(&dir)?;
    let keep_on_error = |error: ClusterError| {
        // Startup failed: keep the folder (logs) for whoever reads the error.
        let _ = std::fs::write(dir.join("KEEP"), "");
        error
    };
    let result = start_servers(binaries, profile, &dir, &reaper).await;
    let (server, processes, apiserver_args) = result.map_err(keep_on_error)?;
    Ok(Launched {
        dir,
        server,
        processes: std::sync::Mutex::new(processes),
        apiserver_args,
        reaper,
    })
}

impl Launched {
    /// Kill the API server (SIGKILL to its process group); etcd keeps running.
    pub(crate) fn stop_api_server(&self) {
        let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(apiserver) = processes.iter_mut().find(|p| p.name == "kube-apiserver") {
            apiserver.kill();
        }
    }

    /// Start the API server again with its first arguments (same port, certificates and
    /// etcd), logging to `kube-apiserver.N.log`, and wait until it serves.
    pub(crate) async fn start_api_server(&self, binaries: &Binaries) -> Result<(), ClusterError> {
        let restarts = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with("kube-apiserver.")
                    })
                    .count()
            })
            .unwrap_or(0);
        let mut apiserver = ServerProcess::spawn(
            "kube-apiserver",
            &binaries.kube_apiserver,
            &self.apiserver_args,
            self.dir.join(format!("kube-apiserver.{restarts}.log")),
            &self.reaper,
        )?;
        let ca_file = self.dir.join("certs").join("apiserver.crt");
        let admin = kubeconfig::path_for(&self.dir, Identity::Admin);
        let ready = tokio::select! {
            ready = wait_ready(&ca_file, &admin) => ready,
            exited = apiserver.exited() => Err(exited),
        };
        let report = apiserver.report(40);
        let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
        processes.retain(|p| p.name != "kube-apiserver");
        processes.insert(0, apiserver);
        ready.map_err(|error| match error {
            ClusterError::Wait(source) => ClusterError::NotReady { source, report },
            other => other,
        })
    }
}

async fn start_servers(
    binaries: &Binaries,
    profile: Profile,
    dir: &Path,
    reaper: &Reaper,
) -> Result<(String, Vec<ServerProcess>, Vec<String>), ClusterError> {
    let service_account_key = dir.join("service-account.key");
    generate_rsa_key(&service_account_key).await?;
    let token_file = dir.join("tokens.csv");
    std::fs::write(&token_file, token_auth_file()).map_err(ClusterError::io(format!(
        "writing {}",
        token_file.display()
    )))?;

    let port = || free_port().map_err(ClusterError::io("finding a free port"));
    let (client_port, peer_port) = (port()?, port()?);
    let (address, api_port) = profile.listen()?;
    let etcd_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let etcd_args = [
        "--name=hermes-test".to_owned(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=hermes-test={peer_url}"),
    ];
    let mut etcd = ServerProcess::spawn(
        "etcd",
        &binaries.etcd,
        &etcd_args,
        dir.join("etcd.log"),
        reaper,
    )?;

    let cert_dir = dir.join("certs");
    let key = service_account_key.display();
    let mut apiserver_args = vec![
        format!("--etcd-servers={etcd_url}"),
        format!("--secure-port={api_port}"),
        format!("--bind-address={address}"),
        format!("--advertise-address={address}"),
        "--insecure-port=0".to_owned(),
        format!("--cert-dir={}", cert_dir.display()),
        format!("--token-auth-file={}", token_file.display()),
        format!("--service-account-key-file={key}"),
        format!("--service-account-signing-key-file={key}"),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
        "--authorization-mode=RBAC".to_owned(),
        "--allow-privileged=true".to_owned(),
        "--profiling=false".to_owned(),
    ];
    apiserver_args.extend(profile.apiserver_args(address));
    let mut apiserver = ServerProcess::spawn(
        "kube-apiserver",
        &binaries.kube_apiserver,
        &apiserver_args,
        dir.join("kube-apiserver.log"),
        reaper,
    )?;

    let server = format!("https://{address}:{api_port}");
    let ca_file = cert_dir.join("apiserver.crt");
    kubeconfig::write_all(dir, &server, &ca_file)?;
    let admin = kubeconfig::path_for(dir, Identity::Admin);
    let ready = tokio::select! {
        ready = wait_ready(&ca_file, &admin) => ready,
        exited = etcd.exited() => Err(exited),
        exited = apiserver.exited() => Err(exited),
    };
    if let Err(error) = ready {
        return Err(match error {
            ClusterError::Wait(source) => ClusterError::NotReady {
                source,
                report: format!("{}\n{}", apiserver.report(40), etcd.report(20)),
            },
            other => other,
        });
    }
    Ok((server, vec![apiserver, etcd], apiserver_args))
}

async fn wait_ready(ca_file: &Path, admin_kubeconfig: &Path) -> Result<(), ClusterError> {
    wait_for(READY_TIMEOUT, || async {
        if !ca_file.exists() {
            return Err("kube-apiserver has not written its serving certificate yet".to_owned());
        }
        let client = kubeconfig::client_from(admin_kubeconfig)
            .await
            .map_err(|e| e.to_string())?;
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let readyz = client
            .request_text(request)
            .await
            .map_err(|e| format!("/readyz: {e}"))?;
        if readyz.trim() != "ok" {
            return Err(format!("/readyz: {readyz}"));
        }
        Api::<Namespace>::all(client)
            .get("default")
            .await
            .map_err(|e| format!("namespace default: {e}"))?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// A 2048-bit RSA key (PKCS#8 PEM) for signing and verifying service account tokens.
async fn generate_rsa_key(path: &Path) -> Result<(), ClusterError> {
    let args = [
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
    ];
    let output = tokio::process::Command::new("openssl")
        .args(args)
        .arg(path)
        .output()
        .await
        .map_err(ClusterError::io("running openssl (is it installed?)"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ClusterError::Command {
            command: format!("openssl {} {}", args.join(" "), path.display()),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}
