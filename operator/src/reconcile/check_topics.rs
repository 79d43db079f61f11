//! Step 6, check topics: whether each compiled Tag's topic exists, from the cached
//! answers of Pub/Sub's admin API ([`crate::topic_check`]), asking for those not known or
//! too old. Off without `--check-topics`; never fails: a topic the operator may not look
//! at, or cannot reach, is skipped (logged and counted) and blocks nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hermes_compiler::config::GatewayConfig;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::Context;
use crate::cache::ChangeSignal;
use crate::events::{Emit, TopicChecked};
use crate::topic_check::{TopicChecks, TopicState};

/// What the step found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckedTopics {
    /// The latest answer per topic the config's Tags publish to.
    pub states: BTreeMap<String, TopicState>,
    /// When a missing topic is due to be checked again.
    pub recheck_at: Option<Timestamp>,
}

/// Check the topics of `config`'s Tags; `signal` is raised when an answer that took too
/// long to wait for arrives.
pub async fn check_topics(
    ctx: &Context,
    namespace: &str,
    config: &GatewayConfig,
    checks: &mut TopicChecks,
    signal: &Arc<ChangeSignal>,
) -> CheckedTopics {
    let Some(check) = &ctx.topic_check else {
        return CheckedTopics::default();
    };
    let topics: BTreeSet<String> = config.tags.values().map(|tag| tag.topic.clone()).collect();
    let checked = checks
        .check(&topics, &check.lookup, &check.options, signal)
        .await;
    for (topic, state) in &checked.arrived {
        TopicChecked {
            namespace,
            topic,
            state,
        }
        .emit(&ctx.metrics);
    }
    let recheck_at = checked.recheck_in.and_then(|after| {
        let after = SignedDuration::try_from(after).ok()?;
        Timestamp::now().checked_add(after).ok()
    });
    CheckedTopics {
        states: checked.states,
        recheck_at,
    }
}
