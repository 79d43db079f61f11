//! How a hit ended: accepted (queued), answered in debug mode, validated, or refused.

use hermes_crds::api::ClientKind;

use crate::metrics::{HitLabels, Metrics};
use crate::server::Refusal;

/// The `outcome` label of `hermes_gateway_hits_total`: the one place its values are
/// spelled (a refusal's value is its [`Refusal::reason`], the `error` of the answer).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum HitOutcome {
    /// Its events were evaluated and their messages queued.
    Accepted,
    /// Debug mode: evaluated and explained, nothing published.
    Debugged,
    /// `/debug/mp/collect`: validated only.
    Validated,
    /// Refused with this reason.
    Refused(&'static str),
}

impl HitOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HitOutcome::Accepted => "accepted",
            HitOutcome::Debugged => "debug",
            HitOutcome::Validated => "validated",
            HitOutcome::Refused(reason) => reason,
        }
    }
}

/// How a hit ended, one variant per way: each writes its own log line and counts the hit
/// under its [`HitOutcome`].
pub(crate) enum HitEnded<'a> {
    /// Its events were evaluated and their messages queued.
    Accepted { events: usize, messages: usize },
    /// It carried the debug token: evaluated and explained, nothing published.
    Debugged { config_hash: &'a str },
    /// A `/debug/mp/collect` request was validated (the answer lists what is wrong).
    Validated,
    /// Refused. Logged at `debug`: refusals are the client's problem and hostile traffic
    /// must not flood the log; the counter shows them.
    Refused(&'a Refusal),
}

impl HitEnded<'_> {
    pub(crate) fn emit(self, kind: ClientKind, metrics: &Metrics) {
        let client = kind.as_str();
        let outcome = match self {
            HitEnded::Accepted { events, messages } => {
                tracing::trace!(client, events, messages, "hit accepted");
                HitOutcome::Accepted
            }
            HitEnded::Debugged { config_hash } => {
                tracing::debug!(client, config_hash, "debug hit explained");
                HitOutcome::Debugged
            }
            HitEnded::Validated => {
                tracing::debug!(client, "hit validated");
                HitOutcome::Validated
            }
            HitEnded::Refused(refusal) => {
                let reason = refusal.reason();
                tracing::debug!(client, reason, detail = %refusal, "hit refused");
                HitOutcome::Refused(reason)
            }
        };
        match outcome {
            HitOutcome::Accepted => metrics.accepted_hits.get(kind).inc(),
            _ => metrics
                .hits
                .get_or_create(&HitLabels { client, outcome })
                .inc(),
        };
    }
}
