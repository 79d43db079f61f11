//! Operator errors, split by what a reconcile does about them: transient ones (the API
//! server, the network) are retried with backoff; permanent ones wait for a change to the
//! resources, because retrying the same input gives the same answer.

/// Why a scope reconcile or an operator task failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The compiled config cannot be serialized (a bug, not an input problem).
    #[error(transparent)]
    Encode(hermes_compiler::contract::EncodeError),
    /// Leader election could not start or failed.
    #[error("leader election: {0}")]
    Leader(#[from] kube_lease_manager::LeaseManagerError),
    /// This process lost (or never had) the leader Lease while about to write.
    #[error("not the leader")]
    NotLeader,
    /// The config publication topic or client is unusable.
    #[error("publication: {0}")]
    Publication(String),
    /// The metrics endpoint could not be served.
    #[error("metrics endpoint: {0}")]
    Metrics(std::io::Error),
    /// A Hermes CRD is not installed or not established.
    #[error("CRD {0} is not established: {1}")]
    CrdNotEstablished(String, String),
}

impl Error {
    /// Whether retrying without a change to the inputs can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Kube(error) => is_transient_kube(error),
            Error::Encode(_) => false,
            Error::Leader(_) | Error::NotLeader | Error::Publication(_) => true,
            Error::Metrics(_) | Error::CrdNotEstablished(..) => false,
        }
    }

    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
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

    fn api(code: u16) -> Error {
        Error::Kube(kube::Error::Api(
            kube::core::Status::failure("test", "Test")
                .with_code(code)
                .boxed(),
        ))
    }

    #[test]
    fn server_errors_and_conflicts_are_retried_but_validation_is_not() {
        assert!(api(500).is_transient());
        assert!(api(409).is_transient());
        assert!(api(429).is_transient());
        assert!(!api(422).is_transient());
        assert!(!api(403).is_transient());
        assert_eq!(api(422).label(), "permanent");
    }
}
