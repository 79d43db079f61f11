//! What happens on the hit path and in the publisher, one struct per happening (one
//! enum variant per way a hit ends; the shape of Vector's `internal_events`). Each `emit`
//! writes the log line and bumps the counters together, with fixed labels, so a count
//! never goes without its log line and no handler spells a metric name or an outcome.
//! The metrics are listed in `docs/metrics.md`.
//!
//! On the hot path events log at `trace`/`debug` (only a level check unless enabled);
//! hit and event counts are labelled with static strings, trigger and tag counts take
//! the names the evaluation already owns, so counting a hit copies no string.

mod config;
mod delivery;
mod evaluation;
mod hit;
mod mp;
mod publish;

pub use config::ConfigLoadOutcome;
pub(crate) use config::{ConfigLoaded, ConfigRefused};
pub(crate) use delivery::{
    DeadLetterTopicFailed, LaneReadFailed, MessagesDeadLettered, MessagesDroppedBufferFull,
    TopicFailing, TopicHealed,
};
pub(crate) use evaluation::{
    EventEvaluated, FieldsDropped, TagFired, TagMessageNotEnqueued, TriggerMatched,
};
pub(crate) use hit::HitEnded;
pub use hit::HitOutcome;
pub(crate) use mp::MpPartDropped;
pub(crate) use publish::{
    BatchTaken, ClientConnectFailed, LaneBatchReady, LogThrottle, MessagePublished, MessageRefused,
    MessageRetried, MessagesAbandoned, MessagesCounted, PublishAttemptFailed, PublishRequestSent,
};
