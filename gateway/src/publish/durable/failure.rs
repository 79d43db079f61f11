//! What a failed publish means for the message and its topic. The class decides whether
//! the lane waits and retries, or moves the message to the dead letters.

use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::error::PublishError;

/// Why a topic cannot take messages at all; also the `reason` of the Tag's
/// `Delivering=False` condition and the dead letters' `hermes_dead_letter_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DestinationFailure {
    TopicNotFound,
    PermissionDenied,
    Unauthenticated,
}

impl DestinationFailure {
    pub fn reason(self) -> &'static str {
        match self {
            DestinationFailure::TopicNotFound => "TopicNotFound",
            DestinationFailure::PermissionDenied => "PermissionDenied",
            DestinationFailure::Unauthenticated => "Unauthenticated",
        }
    }
}

/// How one failed publish is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Pub/Sub (or the way to it) is unavailable for now: keep the message, back off,
    /// retry. The lane waits; other topics do not.
    Transient,
    /// The topic cannot take any message: dead-letter, mark the topic failing, probe it.
    Destination(DestinationFailure),
    /// Pub/Sub refuses this message itself (`InvalidArgument`: too large, bad
    /// attributes): dead-letter it alone.
    Message,
}

/// The class of a publish error from the `google-cloud-pubsub` client.
pub fn classify(error: &PublishError) -> FailureClass {
    let PublishError::Rpc(error) = error else {
        // A paused ordering key (behind a failed message) or a client shutting down.
        return FailureClass::Transient;
    };
    match error.status().map(|status| status.code) {
        Some(Code::NotFound) => FailureClass::Destination(DestinationFailure::TopicNotFound),
        Some(Code::PermissionDenied) => {
            FailureClass::Destination(DestinationFailure::PermissionDenied)
        }
        Some(Code::Unauthenticated) => {
            FailureClass::Destination(DestinationFailure::Unauthenticated)
        }
        Some(Code::InvalidArgument) => FailureClass::Message,
        // Unavailable, DeadlineExceeded, ResourceExhausted, Aborted, Internal, Unknown,
        // and errors without a status (connection refused, timeouts, I/O).
        _ => FailureClass::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use google_cloud_gax::error::Error;
    use google_cloud_gax::error::rpc::Status;

    fn rpc(code: Code) -> PublishError {
        PublishError::Rpc(std::sync::Arc::new(Error::service(
            Status::default().set_code(code).set_message("x"),
        )))
    }

    #[test]
    fn missing_and_forbidden_topics_fail_the_destination() {
        assert_eq!(
            classify(&rpc(Code::NotFound)),
            FailureClass::Destination(DestinationFailure::TopicNotFound)
        );
        assert_eq!(
            classify(&rpc(Code::PermissionDenied)),
            FailureClass::Destination(DestinationFailure::PermissionDenied)
        );
    }

    #[test]
    fn outages_are_transient_and_invalid_messages_fail_alone() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Aborted,
            Code::Internal,
        ] {
            assert_eq!(classify(&rpc(code)), FailureClass::Transient, "{code:?}");
        }
        assert_eq!(
            classify(&PublishError::OrderingKeyPaused),
            FailureClass::Transient
        );
        assert_eq!(classify(&rpc(Code::InvalidArgument)), FailureClass::Message);
    }
}
