//! Step 5, forget gone gateways: delete the Leases of gateway replicas whose reports
//! expired an hour ago (pods replaced long ago). They no longer count for liveness, so
//! this is housekeeping: best effort, leader only, never failing the reconcile.

use hermes_compiler::contract::GatewayReport;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::DeleteParams;

use super::Context;
use crate::events::{Emit, GatewayLeaseNotRemoved, GatewayLeaseRemoved};
use crate::liveness;

/// How long a gateway Lease stays after its report expired (a replica long replaced).
const GONE_GATEWAY_RETENTION: SignedDuration = SignedDuration::from_hours(1);

/// Delete the Leases of replicas gone for an hour; returns how many were deleted.
pub async fn forget_gone_gateways(
    ctx: &Context,
    namespace: &str,
    reports: &[(String, GatewayReport)],
    now: Timestamp,
) -> usize {
    if !ctx.leadership.is_leader() {
        return 0;
    }
    let api: Api<Lease> = Api::namespaced(ctx.client.clone(), namespace);
    let mut removed = 0;
    for lease in liveness::long_gone(reports, now, GONE_GATEWAY_RETENTION) {
        match api.delete(lease, &DeleteParams::default()).await {
            Ok(_) => {
                removed += 1;
                GatewayLeaseRemoved { namespace, lease }.emit(&ctx.metrics);
            }
            Err(error) => GatewayLeaseNotRemoved {
                namespace,
                lease,
                error: &error,
            }
            .emit(&ctx.metrics),
        }
    }
    removed
}
