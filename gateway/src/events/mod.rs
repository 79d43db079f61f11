//! What happens on the hit path and in the publisher, one struct per happening (the
//! shape of Vector's `internal_events`). Each `emit` writes the log line and bumps the
//! counters together, with fixed labels, so a count never goes without its log line and
//! no handler spells a metric name or an outcome. The metrics are listed in
//! `docs/metrics.md`.
//!
//! Events on the hot path (a hit, an event, a tag) log at `trace`/`debug` and label with
//! static strings or names the evaluation already owns: emitting allocates nothing beyond
//! the label of a new series.

mod config;
mod evaluation;
mod hit;
mod publish;

pub use config::ConfigLoadOutcome;
pub(crate) use config::{ConfigLoaded, ConfigRefused};
pub(crate) use evaluation::{
    EventEvaluated, FieldsDropped, TagFired, TagMessageNotEnqueued, TriggerMatched,
};
pub(crate) use hit::HitEnded;
pub use hit::HitOutcome;
pub(crate) use publish::{
    BatchTaken, ClientConnectFailed, LogThrottle, MessagePublished, MessageRefused, MessageRetried,
    MessagesAbandoned, PublishAttemptFailed,
};
