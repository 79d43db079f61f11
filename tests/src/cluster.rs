//! A real Kubernetes control plane (etcd + kube-apiserver 1.20) for tests.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use kube::Client;
use tokio::sync::OnceCell;

use crate::binaries::Binaries;
use crate::error::ClusterError;
use crate::identity::Identity;
use crate::launch::{Launched, Profile, launch};
use crate::namespace::TestNamespace;
use crate::{crds, kubeconfig, kubectl};

/// A running etcd + kube-apiserver on loopback ports, with a kubeconfig per [`Identity`].
///
/// Cheap to clone; the servers are killed (whole process groups) when the last clone is
/// dropped, or, for [`TestCluster::shared`], when the test binary exits. Logs stay in
/// [`TestCluster::dir`] while it runs. Clients are made per call because a `kube::Client`
/// belongs to the Tokio runtime that made it, and each `#[tokio::test]` has its own.
#[derive(Clone)]
pub struct TestCluster {
    inner: Arc<Inner>,
}

struct Inner {
    binaries: Binaries,
    crds_applied: OnceCell<()>,
    namespaces: AtomicU32,
    launched: Launched,
}

static SHARED: OnceCell<TestCluster> = OnceCell::const_new();

impl TestCluster {
    /// Starts a new cluster and waits until it serves (about 2 s). Needs the binaries
    /// (see [`Binaries::locate`]) and `openssl`.
    pub async fn start() -> Result<Self, ClusterError> {
        Self::start_with(Profile::ApiOnly).await
    }

    pub(crate) async fn start_with(profile: Profile) -> Result<Self, ClusterError> {
        crate::install_crypto_provider();
        let binaries = Binaries::locate()?;
        let launched = launch(&binaries, profile).await?;
        tracing::info!(server = %launched.server, dir = %launched.dir.display(), "test cluster ready");
        Ok(Self {
            inner: Arc::new(Inner {
                binaries,
                crds_applied: OnceCell::new(),
                namespaces: AtomicU32::new(0),
                launched,
            }),
        })
    }

    /// The cluster shared by every test of this test binary, started on first use.
    /// Give each test its own [`TestCluster::namespace`].
    pub async fn shared() -> Result<&'static Self, ClusterError> {
        SHARED.get_or_try_init(Self::start).await
    }

    /// The API server URL, `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.inner.launched.server
    }

    /// The cluster folder: kubeconfigs, certificates, tokens, etcd data and logs.
    pub fn dir(&self) -> &Path {
        &self.inner.launched.dir
    }

    /// The binaries this cluster runs.
    pub fn binaries(&self) -> &Binaries {
        &self.inner.binaries
    }

    /// The key that signs service account tokens (the controller-manager of a node
    /// needs it to issue them).
    pub fn service_account_key(&self) -> PathBuf {
        self.dir().join("service-account.key")
    }

    /// The API server's self-signed serving certificate: the CA of every kubeconfig.
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("certs").join("apiserver.crt")
    }

    /// The admin kubeconfig, for `kubectl` and for processes started by tests.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.kubeconfig_for(Identity::Admin)
    }

    /// The kubeconfig that authenticates as `identity` (e.g. to run the operator as its
    /// service account).
    pub fn kubeconfig_for(&self, identity: Identity) -> PathBuf {
        kubeconfig::path_for(self.dir(), identity)
    }

    /// A new admin client, in the calling runtime.
    pub async fn client(&self) -> Result<Client, ClusterError> {
        self.client_as(Identity::Admin).await
    }

    /// A new client acting as `identity`, in the calling runtime.
    pub async fn client_as(&self, identity: Identity) -> Result<Client, ClusterError> {
        kubeconfig::client_from(&self.kubeconfig_for(identity)).await
    }

    /// Creates a namespace named `PREFIX-N`, unique in this cluster.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace, ClusterError> {
        TestNamespace::create(self, prefix).await
    }

    /// Installs the Tag, Trigger and LookupTable CRDs (server-side apply) and waits until
    /// they are Established. Done once per cluster; later calls return at once.
    pub async fn apply_crds(&self) -> Result<(), ClusterError> {
        self.inner
            .crds_applied
            .get_or_try_init(|| async { crds::apply(&self.client().await?).await })
            .await?;
        Ok(())
    }

    /// `kubectl ARGS…` as admin; its stdout, or an error carrying its stderr.
    pub async fn kubectl(&self, args: &[&str]) -> Result<String, ClusterError> {
        let output = self.kubectl_output(args, None).await?;
        kubectl::success(args, output)
    }

    /// `kubectl ARGS…` as admin with `stdin` fed in (e.g. `apply -f -`); the raw output
    /// whatever the exit status, for tests that expect kubectl to fail.
    pub async fn kubectl_output(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<Output, ClusterError> {
        let kubeconfig = self.kubeconfig_path();
        let cache = self.kubectl_cache_dir();
        kubectl::run(
            &self.inner.binaries.kubectl,
            &kubeconfig,
            &cache,
            args,
            stdin,
        )
        .await
    }

    /// The tails of the etcd and kube-apiserver logs, for failure messages.
    pub fn failure_report(&self) -> String {
        let processes = self
            .inner
            .launched
            .processes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        processes
            .iter()
            .map(|p| p.report(40))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Kills the kube-apiserver (an outage: every client's connection drops, new ones are
    /// refused); etcd and everything stored stay. Affects every user of this cluster, so
    /// a test doing this should have the cluster to itself (its own test binary).
    pub fn stop_api_server(&self) {
        self.inner.launched.stop_api_server();
    }

    /// Starts the kube-apiserver again on the same port, certificates and etcd, and waits
    /// until it serves.
    pub async fn start_api_server(&self) -> Result<(), ClusterError> {
        self.inner
            .launched
            .start_api_server(&self.inner.binaries)
            .await
    }

    /// Keeps [`TestCluster::dir`] after the cluster stops (called on test failure).
    pub fn keep_artifacts(&self) {
        let _ = std::fs::write(self.dir().join("KEEP"), "");
    }

    pub(crate) fn next_namespace_number(&self) -> u32 {
        self.inner.namespaces.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn kubectl_cache_dir(&self) -> PathBuf {
        self.dir().join("kubectl-cache")
    }
}
