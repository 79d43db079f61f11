//! Step 3, publish outcome: tell the `--publication-topic` what the write step decided:
//! one message per config written, one per distinct failure (too large, the write
//! refused). Fire and forget: the message is sent in the background and its fate is
//! logged and counted ([`OutcomeSent`], [`OutcomeNotSent`]), never failing the reconcile.

use k8s_openapi::jiff::Timestamp;

use super::Context;
use super::compile::Compiled;
use super::write_config::ConfigWrite;
use crate::error::ReconcileError;
use crate::events::{Emit, OutcomeNotSent, OutcomeSent};
use crate::publication::{self, LastPublished, Outcome};

/// What the step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomePublication {
    /// No `--publication-topic`.
    NoTopic,
    /// The write step stopped before deciding anything (not the leader).
    Undecided,
    /// Nothing written and no new failure: nothing to say.
    NothingNew,
    /// A message is on its way.
    Sending(Outcome),
}

/// Publish the outcome of `write` for `compiled`, unless `last` says it was already.
pub fn publish_outcome(
    ctx: &Context,
    namespace: &str,
    compiled: &Compiled,
    write: &Result<ConfigWrite, ReconcileError>,
    last: &mut LastPublished,
) -> OutcomePublication {
    let Some(sink) = &ctx.outcomes else {
        return OutcomePublication::NoTopic;
    };
    let reason = match write {
        Ok(ConfigWrite::Written | ConfigWrite::Unchanged) => None,
        Ok(ConfigWrite::TooLarge(message)) => Some(message.clone()),
        Err(ReconcileError::WriteConfig { source, .. }) => {
            Some(format!("writing the config ConfigMap failed: {source}"))
        }
        Err(_) => return OutcomePublication::Undecided,
    };
    let wrote = matches!(write, Ok(ConfigWrite::Written));
    let time = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let message = publication::message(namespace, &compiled.output, reason.as_deref(), &time);
    if !last.should_publish(&message, wrote) {
        return OutcomePublication::NothingNew;
    }
    let outcome = message.outcome;
    let hash = message.config_hash.clone();
    let pending = sink.publish(message);
    let metrics = ctx.metrics.clone();
    let namespace = namespace.to_string();
    tokio::spawn(async move {
        match pending.await {
            Ok(()) => OutcomeSent {
                namespace: &namespace,
                hash: &hash,
                outcome,
            }
            .emit(&metrics),
            Err(error) => OutcomeNotSent {
                namespace: &namespace,
                hash: &hash,
                error: &error,
            }
            .emit(&metrics),
        }
    });
    OutcomePublication::Sending(outcome)
}
