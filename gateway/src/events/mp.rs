//! What the lenient `/mp/collect` leaves out of an accepted request.

use crate::collect::{Dropped, ValidationMessage};
use crate::metrics::{Metrics, MpDroppedLabels};

/// One part of an accepted Measurement Protocol request dropped for breaking a rule (the
/// rest was fired, as Google's collection endpoint does). Logged at `warn`: only a holder
/// of the stream's `api_secret` gets this far, and the shop loses data it meant to send.
pub(crate) struct MpPartDropped<'a> {
    /// The measurement id (or Firebase app id).
    pub stream: &'a str,
    /// What was left out, and the rule's code.
    pub dropped: &'a Dropped,
    /// The validation message saying why (as `/debug/mp/collect` answers it).
    pub message: &'a ValidationMessage,
}

impl MpPartDropped<'_> {
    pub(crate) fn emit(self, metrics: &Metrics) {
        let code = self.dropped.code.as_str();
        let part = self.dropped.part.kind();
        tracing::warn!(
            stream = self.stream,
            code,
            part,
            field_path = %self.message.field_path,
            description = %self.message.description,
            "measurement protocol part dropped"
        );
        metrics
            .mp_dropped
            .get_or_create(&MpDroppedLabels { code, part })
            .inc();
    }
}
