//! The real test environment every integration and end-to-end test uses: etcd and
//! kube-apiserver (and the Pub/Sub emulator) on free loopback ports, a namespace and
//! clients per test, waits with deadlines, cleanup when the test binary ends.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use hermes_tests::{TestCluster, wait_for};
//! let cluster = TestCluster::shared().await?;
//! cluster.apply_crds().await?;
//! let ns = cluster.namespace("my-test").await?;
//! let listed = cluster.kubectl(&["get", "tags", "-n", ns.name()]).await?;
//! # Ok(()) }
//! ```
//! Binaries come from `KUBEBUILDER_ASSETS`, else the cache folder that
//! `tests/provision/k8s-binaries.sh` fills.

pub mod binaries;
pub mod cluster;
pub mod crds;
pub mod error;
pub mod identity;
mod kubeconfig;
mod kubectl;
mod launch;
pub mod namespace;
pub mod ports;
mod process;
pub mod pubsub;
pub mod wait;

pub use binaries::Binaries;
pub use cluster::TestCluster;
pub use crds::{FIELD_MANAGER, hermes_crds};
pub use error::ClusterError;
pub use identity::{Identity, SYSTEM_NAMESPACE};
pub use namespace::TestNamespace;
pub use ports::free_port;
pub use wait::{WaitError, wait_for};

pub use hermes_runtime::install_crypto_provider;
