//! Gateway report Leases written by the test, as a gateway replica would write them: a
//! fake fleet of replicas, each serving some config hash.

use hermes_compiler::contract::{self, GatewayReport};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Patch, PatchParams};

use crate::error::ClusterError;
use crate::namespace::TestNamespace;

/// The field manager of the fake replicas' Leases.
const FAKE_GATEWAY_FIELD_MANAGER: &str = "hermes-tests-fake-gateway";

/// Writes `replica`'s report Lease: serving `hash`, renewed `renewed_secs_ago`, lasting
/// `duration_secs`.
pub async fn write_gateway_lease(
    ns: &TestNamespace,
    replica: &str,
    hash: Option<&str>,
    renewed_secs_ago: i64,
    duration_secs: i64,
) -> Result<Lease, ClusterError> {
    let lease = GatewayReport {
        replica: replica.to_string(),
        hash: hash.map(str::to_string),
        error: None,
        renew_time: Some(Timestamp::now() - SignedDuration::from_secs(renewed_secs_ago)),
        duration: SignedDuration::from_secs(duration_secs),
        failing_topics: Vec::new(),
    }
    .to_lease(ns.name());
    let written = ns
        .api::<Lease>()
        .patch(
            &contract::gateway_lease_name(replica),
            &PatchParams::apply(FAKE_GATEWAY_FIELD_MANAGER).force(),
            &Patch::Apply(&lease),
        )
        .await?;
    Ok(written)
}
