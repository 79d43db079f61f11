//! Leader election over the `hermes-operator` Lease (kube-lease-manager): only the leader
//! writes configs and statuses; every replica keeps its caches warm so a new leader acts
//! at once. Before writing, the leader re-reads the Lease ([`Leadership::confirm`]), so a
//! replica whose renewals failed stops writing as soon as its lease would have expired,
//! even before its manager notices. Releasing on shutdown lets a follower take over at
//! its next look instead of waiting for expiry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::api_timeout;
use crate::error::Error;
use crate::events::{Emit, LeaderElectionFailed};
use crate::metrics::Metrics;

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
    election: Mutex<Option<Election>>,
    /// Keeps an unelected `true` channel open, so that `changed()` pends forever.
    _fixed: Option<watch::Sender<bool>>,
}

/// The running election: `stop` ends it (the Lease released), `task` is its loop.
struct Election {
    stop: oneshot::Sender<()>,
    task: JoinHandle<kube_lease_manager::Result<()>>,
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
            election: Mutex::new(None),
            _fixed: Some(sender),
        }
    }

    /// Join the election; returns at once (not yet leader).
    pub async fn start(
        client: Client,
        options: LeaderOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Self, Error> {
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
        let (sender, state) = watch::channel(false);
        let (stop, stopped) = oneshot::channel();
        let election = tokio::spawn(elect(
            manager,
            sender,
            stopped,
            Duration::from_secs(grace),
            metrics,
        ));
        Ok(Leadership {
            state,
            lease: Some((Api::namespaced(client, &options.namespace), options)),
            election: Mutex::new(Some(Election {
                stop,
                task: election,
            })),
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
        let election = self
            .election
            .lock()
            .ok()
            .and_then(|mut election| election.take());
        let Some(Election { stop, task }) = election else {
            return;
        };
        let _ = stop.send(());
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Ok(()))) => tracing::info!("leader Lease released"),
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
        if let Some(election) = self.election.get_mut().ok().and_then(|e| e.take()) {
            election.task.abort();
        }
    }
}

/// The election loop: publish each change of leadership on `sender` until `stopped`,
/// then release the Lease.
///
/// The manager's own loop (`LeaseManager::watch`) backs off 1 s, 2 s, … up to 30 s after
/// failed requests and resets only when leadership changes, so a leader whose renewals
/// failed a few times, even far apart, waited longer than a short Lease lasts before
/// renewing again, and refused every write meanwhile (seen on a loaded two-core CI
/// machine). Here a failure is retried within `grace`, well inside the Lease.
async fn elect(
    manager: LeaseManager,
    sender: watch::Sender<bool>,
    mut stopped: oneshot::Receiver<()>,
    grace: Duration,
    metrics: Arc<Metrics>,
) -> kube_lease_manager::Result<()> {
    let mut retries = election_retries(grace);
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            changed = manager.changed() => match changed {
                Ok(leader) => {
                    sender.send_replace(leader);
                    retries = election_retries(grace);
                }
                Err(error) => {
                    let retry_in = retries.next().unwrap_or(grace);
                    LeaderElectionFailed { error: &error, retry_in }.emit(&metrics);
                    tokio::select! {
                        biased;
                        _ = &mut stopped => break,
                        () = tokio::time::sleep(retry_in) => {}
                    }
                }
            },
        }
    }
    sender.send_replace(false);
    manager.release().await
}

/// Delays between failed election steps: from a tenth of `grace`, doubling, never more
/// than `grace`, for ever. (No jitter: a few replicas at most compete, and the manager
/// already backs off on conflicting writes.)
fn election_retries(grace: Duration) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(grace / 10)
        .with_factor(2.0)
        .with_max_delay(grace)
        .without_max_times()
        .build()
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
    fn failed_election_steps_are_retried_within_the_grace_for_ever() {
        let grace = Duration::from_secs(1);
        let delays: Vec<Duration> = election_retries(grace).take(50).collect();
        assert_eq!(delays.len(), 50);
        assert_eq!(delays[0], Duration::from_millis(100));
        assert!(delays.iter().all(|delay| *delay <= grace), "{delays:?}");
        assert_eq!(delays[49], grace);
    }

    #[test]
    fn always_is_the_leader() {
        assert!(Leadership::always().is_leader());
    }
}
