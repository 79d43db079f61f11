//! One namespace reconcile, as named steps, each a file with a typed outcome:
//!
//! [`compile`] → [`write_config`] (only when the hash changed) → [`forget_stale_shards`]
//! → [`publish_outcome`] → [`read_liveness`] → [`forget_gone_gateways`] →
//! [`check_topics`] (with the gateways' failing topics: [`crate::delivery`]) →
//! [`sync_statuses`] (only the statuses that changed, with Kubernetes Events on Ready
//! transitions).
//!
//! Gateway reports are judged as of the time the watches lost the API server, until one
//! lease duration after it returned ([`crate::cache::ApiContact`]), so that an API server
//! outage does not flap every status.
//!
//! Runs only on the leader; each step that writes confirms the leader Lease first. A step
//! that fails stops the reconcile with its own [`ReconcileError`] variant, except that a
//! failed config write is still published as an outcome before it stops.

mod check_topics;
mod compile;
mod forget_gone_gateways;
mod forget_stale_shards;
mod publish_outcome;
mod read_liveness;
mod sync_statuses;
mod write_config;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use hermes_compiler::contract::{ConfigMapLimits, GatewayReport};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::runtime::events::Recorder;
use tokio::time::Instant;

use crate::cache::NamespaceCache;
use crate::error::ReconcileError;
use crate::leader::Leadership;
use crate::metrics::Metrics;
use crate::publication::{LastPublished, OutcomeSink};
use crate::status::NamespaceOutcome;
use crate::topic_check::{TopicCheckOptions, TopicChecks, TopicLookup};

pub use check_topics::{CheckedTopics, check_topics};
pub use compile::{Compiled, Fit, compile};
pub use forget_gone_gateways::forget_gone_gateways;
pub use forget_stale_shards::forget_stale_shards;
pub use publish_outcome::{OutcomePublication, publish_outcome};
pub use read_liveness::read_liveness;
pub use sync_statuses::{StatusSync, sync_statuses};
pub use write_config::{ConfigWrite, write_config};

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Metrics, updated through [`crate::events`].
    pub metrics: Arc<Metrics>,
    /// Records Kubernetes Events on Ready transitions.
    pub recorder: Recorder,
    /// Whether (and how surely) this replica leads.
    pub leadership: Arc<Leadership>,
    /// Where publication outcomes go, if anywhere.
    pub outcomes: Option<Arc<dyn OutcomeSink>>,
    /// How much config a ConfigMap holds, and how many shards a config may take.
    pub config_map_limits: ConfigMapLimits,
    /// How Tags' topics are checked, if they are.
    pub topic_check: Option<TopicCheck>,
}

/// The topic check's client and settings.
pub struct TopicCheck {
    /// Asks Pub/Sub.
    pub lookup: Arc<dyn TopicLookup>,
    /// TTL and wait.
    pub options: TopicCheckOptions,
}

/// What a namespace's worker remembers between reconciles, each step its part.
#[derive(Default)]
pub struct NamespaceMemory {
    write: write_config::WriteMemory,
    last_published: LastPublished,
    patched: sync_statuses::Patched,
    topic_checks: TopicChecks,
}

/// What a reconcile that ran every step found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciled {
    /// The compiled config's hash.
    pub hash: String,
    /// What the write step did.
    pub write: ConfigWrite,
    /// What the outcome step did.
    pub publication: OutcomePublication,
    /// What the status step did.
    pub statuses: StatusSync,
    /// When a gateway report expiring may change the statuses: reconcile again then.
    pub recheck_at: Option<Timestamp>,
}

/// Runs `work` (CPU-bound: a compile of 10,000 Tags or a 100,000-row lookup table takes
/// seconds) with the runtime told to hand this worker's other tasks to another thread
/// first. Otherwise they waited for it, the leader Lease's renewals among them: the Lease
/// lapsed during a long compile, and the write after it was refused, compile after
/// compile. On a current-thread runtime (unit tests) it just runs `work`.
fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Reconcile the namespace `cache` holds. `changed_since` is when the first change it
/// handles arrived.
pub async fn reconcile(
    ctx: &Context,
    cache: &NamespaceCache,
    memory: &mut NamespaceMemory,
    changed_since: Option<Instant>,
) -> Result<Reconciled, ReconcileError> {
    let namespace = cache.namespace.as_str();
    let compiled = off_the_runtime(|| compile(cache, ctx.config_map_limits, &ctx.metrics))?;
    let write = write_config(ctx, cache, &compiled, &mut memory.write, changed_since).await;
    let publication = publish_outcome(
        ctx,
        namespace,
        &compiled,
        &write,
        &mut memory.last_published,
    );
    let write = write?;
    forget_stale_shards(ctx, cache, &compiled, &write).await;

    let now = Timestamp::now();
    let reports = cache.gateway_leases();
    let judgement = cache.contact.judgement(now, report_duration(&reports));
    let verdict = read_liveness(
        namespace,
        &reports,
        compiled.hash(),
        &mut memory.write.awaiting_live,
        judgement.at,
        &ctx.metrics,
    );
    forget_gone_gateways(ctx, namespace, &reports, judgement.at).await;
    let checked = check_topics(
        ctx,
        namespace,
        &compiled.output.config,
        &mut memory.topic_checks,
        &cache.signal,
    )
    .await;
    let gateway_reports: Vec<GatewayReport> = reports.iter().map(|(_, r)| r.clone()).collect();
    let failing_topics =
        crate::delivery::failing_topics(&gateway_reports, &checked.states, judgement.at);
    let recheck_at = if judgement.at == now {
        earliest([
            verdict.recheck_at,
            checked.recheck_at,
            failing_report_expiry(&gateway_reports, now),
        ])
    } else {
        earliest([judgement.until, checked.recheck_at])
    };
    let written = write.written();
    let outcome = NamespaceOutcome {
        config: &compiled.output.config,
        diagnostics: &compiled.output.diagnostics,
        objects: &compiled.output.objects,
        written: &written,
        liveness: &verdict.liveness,
        failing_topics: &failing_topics,
    };
    let confirmed = write == ConfigWrite::Written;
    let statuses = sync_statuses(
        ctx,
        namespace,
        &compiled.resources,
        outcome,
        confirmed,
        &mut memory.patched,
        &cache.signal,
    )
    .await?;
    Ok(Reconciled {
        hash: compiled.hash().to_string(),
        write,
        publication,
        statuses,
        recheck_at,
    })
}

/// The longest lease duration among `reports` (10 s without any): how long a live
/// replica may take to renew.
fn report_duration(reports: &[(String, GatewayReport)]) -> SignedDuration {
    reports
        .iter()
        .map(|(_, r)| r.duration)
        .max()
        .unwrap_or(SignedDuration::from_secs(10))
}

/// When the first fresh report listing failing topics expires (its Tags heal then).
fn failing_report_expiry(reports: &[GatewayReport], now: Timestamp) -> Option<Timestamp> {
    reports
        .iter()
        .filter(|r| !r.failing_topics.is_empty() && r.is_fresh(now))
        .filter_map(GatewayReport::expires_at)
        .min()
}

fn earliest(times: impl IntoIterator<Item = Option<Timestamp>>) -> Option<Timestamp> {
    times.into_iter().flatten().min()
}
