//! The real test environment every integration and end-to-end test uses: etcd and
//! kube-apiserver (and the Pub/Sub emulator) on free loopback ports, a namespace and
//! clients per test, waits with deadlines, cleanup when the test binary ends; and the
//! product on top of it, in-process ([`operator`], [`gateway_watcher`]) or as processes
//! ([`stack`], [`gateway_process`]), fed objects built by [`fixtures`].
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use hermes_tests::{TestCluster, fixtures, wait_for};
//! let cluster = TestCluster::shared().await?;
//! cluster.apply_crds().await?;
//! let ns = cluster.namespace("my-test").await?;
//! ns.apply(&[&fixtures::low_stock_signal_trigger(), &fixtures::low_stock_signal_tag()])
//!     .await?;
//! let listed = cluster.kubectl(&["get", "tags", "-n", ns.name()]).await?;
//! # Ok(()) }
//! ```
//! Binaries come from `KUBEBUILDER_ASSETS`, else the cache folder that
//! `tests/provision/k8s-binaries.sh` fills.

use std::time::Duration;

pub mod binaries;
pub mod cluster;
pub mod crds;
pub mod error;
pub mod fixtures;
pub mod gateway_config;
pub mod gateway_process;
pub mod gateway_report;
pub mod gateway_watcher;
pub mod helm;
pub mod hung_request;
pub mod identity;
mod kubeconfig;
mod kubectl;
mod launch;
pub mod logs;
pub mod low_stock;
pub mod namespace;
pub mod node;
pub mod operator;
pub mod ports;
mod process;
pub mod product;
pub mod pubsub;
pub mod scale;
pub mod stack;
pub mod status;
pub mod wait;

pub use binaries::Binaries;
pub use cluster::TestCluster;
pub use crds::{FIELD_MANAGER, hermes_crds};
pub use error::ClusterError;
pub use identity::{Identity, SYSTEM_NAMESPACE};
pub use namespace::{Manifest, TestNamespace, namespace_with_crds};
pub use ports::free_port;
pub use wait::{WaitError, wait_for};

pub use hermes_runtime::install_crypto_provider;

/// How long a test waits for the in-process operator or a gateway watcher to reach a
/// state: generous for a loaded two-core machine, where it normally takes well under 1 s.
pub const TIMEOUT: Duration = Duration::from_secs(30);
