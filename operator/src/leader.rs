//! Leader election over the `hermes-operator` Lease (kube-lease-manager): only the leader
//! writes configs and statuses; every replica keeps its caches warm so a new leader acts
//! at once. Before writing, the leader re-reads the Lease ([`Leadership::confirm`]), so a
//! replica whose renewals failed stops writing as soon as its lease would have expired,
//! even before its manager notices. Releasing on shutdown lets a follower take over at
//! its next look instead of waiting for expiry.

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api_timeout;
use crate::error::Error;

/// Why this replica may not write now.
#[derive(Debug, thiserror::Error)]
pub enum LeadershipError {
    /// The election says another replica leads (or none yet).
    #[error("not the leader")]
    NotLeader,
    /// The leader Lease could not be re-read to confirm.
    #[error("reading the leader Lease {lease} failed: {source}")]
    ReadLease {
        /// The Lease's name.
        lease: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The Lease was re-read and is held by another replica, or expired.
    #[error("the leader Lease {lease} is no longer held by this replica")]
    LeaseLost {
        /// The Lease's name.
        lease: String,
    },
}

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaderOptions {
    /// The Lease's namespace (the operator's own).
    pub namespace: String,
    /// The Lease's name.
    pub lease_name: String,
    /// This replica's identity (pod name).
    pub identity: String,
    /// How long a renewal holds; a dead leader is replaced within about this long.
    pub duration: Duration,
}

/// This replica's view of leadership.
pub struct Leadership {
    state: watch::Receiver<bool>,
    lease: Option<(Api<Lease>, LeaderOptions)>,
    tasks: Mutex<Option<ElectionTasks>>,
    /// Keeps an unelected `true` channel open, so that `changed()` pends forever.
    _fixed: Option<watch::Sender<bool>>,
}

struct ElectionTasks {
    forwarder: JoinHandle<()>,
    manager: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
}

impl Leadership {
    /// Always the leader (a single replica, or tests).
    pub fn always() -> Self {
        Self::fixed(true, None)
    }

    /// A leadership that never changes: `leader` as the election's answer, confirmed
    /// against `lease` when given (tests of the reconcile pipeline).
    pub(crate) fn fixed(leader: bool, lease: Option<(Api<Lease>, LeaderOptions)>) -> Self {
        let (sender, state) = watch::channel(leader);
        Leadership {
            state,
            lease,
            tasks: Mutex::new(None),
            _fixed: Some(sender),
        }
    }

    /// Join the election; returns at once (not yet leader).
    pub async fn start(client: Client, options: LeaderOptions) -> Result<Self, Error> {
        let seconds = options.duration.as_secs().max(2);
        let grace = (seconds / 3).max(1);
        // Election requests give up within the grace, sooner than other requests: a
        // renewal lost on a dead connection must fail and be retried before the Lease
        // lapses, or [`Leadership::confirm`] refuses every write while the manager still
        // believes it leads (seen on the test node after a pod-network stall).
        let lease_client = api_timeout::bounded(client.clone(), Duration::from_secs(grace));
        let manager = LeaseManagerBuilder::new(lease_client, &options.lease_name)
            .with_namespace(&options.namespace)
            .with_identity(&options.identity)
            .with_duration(seconds)
            .with_grace(grace)
            .with_field_manager(format!("hermes-operator-leader-{}", options.identity))
            .build()
            .await
            .map_err(Error::StartLeaderElection)?;
        let (mut elected, manager) = manager.watch().await;
        let (sender, state) = watch::channel(false);
        let forwarder = tokio::spawn(async move {
            loop {
                let leader = *elected.borrow_and_update();
                sender.send_replace(leader);
                if elected.changed().await.is_err() {
                    sender.send_replace(false);
                    return;
                }
            }
        });
        Ok(Leadership {
            state,
            lease: Some((Api::namespaced(client, &options.namespace), options)),
            tasks: Mutex::new(Some(ElectionTasks { forwarder, manager })),
            _fixed: None,
        })
    }

    /// Whether this replica is the leader now (as the election last decided).
    pub fn is_leader(&self) -> bool {
        *self.state.borrow()
    }

    /// A receiver that changes when leadership does.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.state.clone()
    }

    /// Re-read the Lease: still held by this replica and not expired?
    pub async fn confirm(&self) -> Result<(), LeadershipError> {
        if !self.is_leader() {
            return Err(LeadershipError::NotLeader);
        }
        let Some((leases, options)) = &self.lease else {
            return Ok(());
        };
        let lease =
            leases
                .get(&options.lease_name)
                .await
                .map_err(|source| LeadershipError::ReadLease {
                    lease: options.lease_name.clone(),
                    source,
                })?;
        if holds(&lease, &options.identity, Timestamp::now()) {
            Ok(())
        } else {
            Err(LeadershipError::LeaseLost {
                lease: options.lease_name.clone(),
            })
        }
    }

    /// Stop competing and release the Lease if held (graceful shutdown). Later calls do
    /// nothing.
    pub async fn release(&self) {
        let tasks = self.tasks.lock().ok().and_then(|mut tasks| tasks.take());
        let Some(ElectionTasks { forwarder, manager }) = tasks else {
            return;
        };
        // Dropping the forwarder drops the manager's receiver: the manager releases.
        forwarder.abort();
        let _ = forwarder.await;
        match tokio::time::timeout(Duration::from_secs(10), manager).await {
            Ok(Ok(Ok(_))) => tracing::info!("leader Lease released"),
            Ok(Ok(Err(error))) => tracing::warn!(%error, "leader Lease release failed"),
            Ok(Err(error)) => tracing::warn!(%error, "leader election task failed"),
            Err(_) => tracing::warn!("leader Lease release timed out"),
        }
    }
}

impl Drop for Leadership {
    /// Dropped without [`Leadership::release`] (a crash, an aborted task): stop renewing
    /// and let the Lease expire.
    fn drop(&mut self) {
        if let Some(tasks) = self.tasks.get_mut().ok().and_then(|tasks| tasks.take()) {
            tasks.forwarder.abort();
            tasks.manager.abort();
        }
    }
}

/// Whether `lease` is held by `identity` and unexpired at `now`.
pub fn holds(lease: &Lease, identity: &str, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else {
        return false;
    };
    let (Some(holder), Some(renewed), Some(seconds)) = (
        spec.holder_identity.as_deref(),
        spec.renew_time.as_ref(),
        spec.lease_duration_seconds,
    ) else {
        return false;
    };
    holder == identity
        && renewed
            .0
            .checked_add(SignedDuration::from_secs(i64::from(seconds)))
            .is_ok_and(|expires| expires > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn lease(holder: &str, renewed: Timestamp) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(6),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn a_lease_is_held_only_by_its_holder_until_it_expires() {
        let renewed: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let lease = lease("op-a", renewed);
        assert!(holds(
            &lease,
            "op-a",
            renewed + SignedDuration::from_secs(5)
        ));
        assert!(!holds(
            &lease,
            "op-b",
            renewed + SignedDuration::from_secs(5)
        ));
        assert!(!holds(
            &lease,
            "op-a",
            renewed + SignedDuration::from_secs(6)
        ));
        assert!(!holds(&Lease::default(), "op-a", renewed));
    }

    #[test]
    fn always_is_the_leader() {
        assert!(Leadership::always().is_leader());
    }
}
