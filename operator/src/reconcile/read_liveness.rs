//! Step 4, read liveness: from the gateway replicas' Lease reports in the cache, decide
//! whether every reporting replica serves the compiled config ([`liveness::decide`]).
//! Reads only the cache, so it cannot fail.

use std::time::Duration;

use hermes_compiler::contract::GatewayReport;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

use crate::events::{ConfigLive, Emit};
use crate::liveness::{self, Liveness, Verdict};
use crate::metrics::Metrics;

/// Decide whether `hash` is live at `now`. When it is and it is the config last written
/// (`awaiting_live`), report how long that took, once.
pub fn read_liveness(
    namespace: &str,
    reports: &[(String, GatewayReport)],
    hash: &str,
    awaiting_live: &mut Option<(String, Instant)>,
    now: Timestamp,
    metrics: &Metrics,
) -> Verdict {
    let reports: Vec<GatewayReport> = reports.iter().map(|(_, r)| r.clone()).collect();
    let verdict = liveness::decide(&reports, hash, now);
    if let Liveness::Live { .. } = verdict.liveness
        && let Some((written, at)) = awaiting_live
        && written.as_str() == hash
    {
        let since_written: Duration = at.elapsed();
        ConfigLive {
            namespace,
            hash,
            since_written,
        }
        .emit(metrics);
        *awaiting_live = None;
    }
    verdict
}
