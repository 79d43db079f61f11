//! Operator errors, one variant per step that can fail, each carrying its source.
//!
//! [`Error`] is what stops the operator from starting. [`ReconcileError`] is a failed step
//! of a namespace reconcile: its [`ReconcileError::step`] names the step in the log line
//! and in the `step` label of `hermes_operator_reconcile_errors_total`, and
//! [`ReconcileError::is_transient`] decides what the worker does next: transient errors
//! (the API server, the network) are retried with backoff; permanent ones wait for a
//! change to the resources, because retrying the same input gives the same answer.

use std::net::SocketAddr;

use hermes_compiler::compile::ObjectKey;
use hermes_compiler::contract::EncodeError;

use crate::leader::LeadershipError;
use crate::publication::PublicationError;

/// Why the operator could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Leader election could not start.
    #[error("leader election could not start: {0}")]
    StartLeaderElection(#[source] kube_lease_manager::LeaseManagerError),
    /// `--publication-topic` is unusable.
    #[error("config publication outcomes cannot be sent: {0}")]
    ConnectPublication(#[source] PublicationError),
    /// The metrics endpoint could not be served.
    #[error("metrics endpoint on {addr}: {source}")]
    ServeMetrics {
        /// Where it was to listen.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// The reconcile step that failed, with what failed in it.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// compile: the compiled config cannot be encoded (a bug, not an input problem).
    #[error("compile: {0}")]
    Encode(#[source] EncodeError),
    /// write config: leadership could not be confirmed before writing the ConfigMap.
    #[error("write config: {0}")]
    LeadershipBeforeWrite(#[source] LeadershipError),
    /// write config: the server-side apply of the ConfigMap failed.
    #[error("write config: applying ConfigMap {config_map} failed: {source}")]
    WriteConfig {
        /// The ConfigMap's name.
        config_map: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// sync statuses: leadership could not be confirmed before the first status patch.
    #[error("sync statuses: {0}")]
    LeadershipBeforePatch(#[source] LeadershipError),
    /// sync statuses: a status patch failed.
    #[error("sync statuses: patching the status of {object} failed: {source}")]
    PatchStatus {
        /// The object.
        object: ObjectKey,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

impl ReconcileError {
    /// The step that failed: the `step` label and log field.
    pub fn step(&self) -> &'static str {
        match self {
            ReconcileError::Encode(_) => "compile",
            ReconcileError::LeadershipBeforeWrite(_) | ReconcileError::WriteConfig { .. } => {
                "write_config"
            }
            ReconcileError::LeadershipBeforePatch(_) | ReconcileError::PatchStatus { .. } => {
                "sync_statuses"
            }
        }
    }

    /// Whether the step stopped because another replica leads: nothing failed, this
    /// replica just must not write.
    pub fn is_not_leader(&self) -> bool {
        match self {
            ReconcileError::LeadershipBeforeWrite(error)
            | ReconcileError::LeadershipBeforePatch(error) => {
                !matches!(error, LeadershipError::ReadLease { .. })
            }
            _ => false,
        }
    }

    /// Whether retrying without a change to the inputs can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ReconcileError::Encode(_) => false,
            ReconcileError::LeadershipBeforeWrite(error)
            | ReconcileError::LeadershipBeforePatch(error) => match error {
                LeadershipError::ReadLease { source, .. } => is_transient_kube(source),
                LeadershipError::NotLeader | LeadershipError::LeaseLost { .. } => true,
            },
            ReconcileError::WriteConfig { source, .. }
            | ReconcileError::PatchStatus { source, .. } => is_transient_kube(source),
        }
    }

    /// `transient` or `permanent`: the `kind` label.
    pub fn retry_label(&self) -> &'static str {
        if self.is_transient() {
            "transient"
        } else {
            "permanent"
        }
    }
}

/// API answers that a retry can fix: server errors, throttling, conflicts, timeouts and
/// every transport failure. Validation (422), authorization (401/403) and bad requests
/// (400) need a change first.
fn is_transient_kube(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 404 | 408 | 409 | 429 | 500..=599),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_compiler::compile::Kind;

    fn patch_failed(code: u16) -> ReconcileError {
        ReconcileError::PatchStatus {
            object: ObjectKey {
                kind: Kind::Tag,
                name: "promo".into(),
            },
            source: kube::Error::Api(
                kube::core::Status::failure("test", "Test")
                    .with_code(code)
                    .boxed(),
            ),
        }
    }

    #[test]
    fn server_errors_and_conflicts_are_retried_but_validation_is_not() {
        assert!(patch_failed(500).is_transient());
        assert!(patch_failed(409).is_transient());
        assert!(patch_failed(429).is_transient());
        assert!(!patch_failed(422).is_transient());
        assert!(!patch_failed(403).is_transient());
        assert_eq!(patch_failed(422).retry_label(), "permanent");
    }

    #[test]
    fn the_step_and_the_object_are_named_in_the_message() {
        let error = patch_failed(500);
        assert_eq!(error.step(), "sync_statuses");
        assert!(
            error
                .to_string()
                .starts_with("sync statuses: patching the status of Tag/promo failed: "),
            "{error}"
        );
    }

    #[test]
    fn losing_the_lease_is_not_leading_but_failing_to_read_it_is_an_error() {
        let lost = ReconcileError::LeadershipBeforeWrite(LeadershipError::LeaseLost {
            lease: "hermes-operator".into(),
        });
        assert!(lost.is_not_leader());
        assert_eq!(lost.step(), "write_config");
        let unread = ReconcileError::LeadershipBeforePatch(LeadershipError::ReadLease {
            lease: "hermes-operator".into(),
            source: kube::Error::Api(
                kube::core::Status::failure("down", "ServiceUnavailable")
                    .with_code(503)
                    .boxed(),
            ),
        });
        assert!(!unread.is_not_leader());
        assert!(unread.is_transient());
    }
}
