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

fn count(metrics: &Metrics, client: ClientKind, outcome: HitOutcome) {
    metrics
        .hits
        .get_or_create(&HitLabels {
            client: client.as_str(),
            outcome,
        })
        .inc();
}

/// A hit's events were evaluated and their messages queued.
pub(crate) struct HitAccepted {
    pub client: ClientKind,
    pub events: usize,
    pub messages: usize,
}

impl HitAccepted {
    pub(crate) fn emit(self, metrics: &Metrics) {
        tracing::trace!(
            client = self.client.as_str(),
            events = self.events,
            messages = self.messages,
            "hit accepted"
        );
        count(metrics, self.client, HitOutcome::Accepted);
    }
}

/// A hit carrying the debug token was evaluated and explained; nothing was published.
pub(crate) struct HitDebugged<'a> {
    pub client: ClientKind,
    pub config_hash: &'a str,
}

impl HitDebugged<'_> {
    pub(crate) fn emit(self, metrics: &Metrics) {
        tracing::debug!(
            client = self.client.as_str(),
            config_hash = self.config_hash,
            "debug hit explained"
        );
        count(metrics, self.client, HitOutcome::Debugged);
    }
}

/// A `/debug/mp/collect` request was validated.
pub(crate) struct HitValidated {
    pub client: ClientKind,
    pub messages: usize,
}

impl HitValidated {
    pub(crate) fn emit(self, metrics: &Metrics) {
        tracing::debug!(
            client = self.client.as_str(),
            validation_messages = self.messages,
            "hit validated"
        );
        count(metrics, self.client, HitOutcome::Validated);
    }
}

/// A hit was refused. Logged at `debug`: refusals are the client's problem and hostile
/// traffic must not flood the log; the counter shows them.
pub(crate) struct HitRefused<'a> {
    pub client: ClientKind,
    pub refusal: &'a Refusal,
}

impl HitRefused<'_> {
    pub(crate) fn emit(self, metrics: &Metrics) {
        let reason = self.refusal.reason();
        tracing::debug!(
            client = self.client.as_str(),
            reason,
            detail = %self.refusal,
            "hit refused"
        );
        count(metrics, self.client, HitOutcome::Refused(reason));
    }
}
