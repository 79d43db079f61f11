//! Reading and waiting on the status the operator writes on Tags, Triggers and
//! LookupTables. The waits assert: they panic with the last status seen, as a failing test
//! should.

use std::fmt::Debug;

use hermes_crds::api::{READY, ResourceStatus, StatusCondition};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::object::HasStatus;
use serde::de::DeserializeOwned;

use crate::TIMEOUT;
use crate::namespace::TestNamespace;
use crate::wait::wait_for;

/// A Hermes kind whose status the operator writes: Tag, Trigger or LookupTable.
pub trait StatusObject:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + HasStatus<Status = ResourceStatus>
    + Clone
    + DeserializeOwned
    + Debug
{
}

impl<K> StatusObject for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + HasStatus<Status = ResourceStatus>
        + Clone
        + DeserializeOwned
        + Debug
{
}

/// The Ready condition of a status.
pub fn ready(status: Option<&ResourceStatus>) -> Option<&StatusCondition> {
    status.and_then(|s| condition(s, READY))
}

/// A condition of a status by type.
pub fn condition<'a>(status: &'a ResourceStatus, type_: &str) -> Option<&'a StatusCondition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// Wait until `name`'s Ready condition has `status` and `reason`; returns the object.
pub async fn wait_ready<K: StatusObject>(
    ns: &TestNamespace,
    name: &str,
    status: &str,
    reason: &str,
) -> K {
    wait_status(ns, name, |s| match ready(Some(s)) {
        Some(c) if c.status == status && c.reason == reason => Ok(()),
        other => Err(format!("Ready is {other:?}, want {status} {reason}")),
    })
    .await
}

/// Wait until `name`'s status satisfies `check`; returns the object.
pub async fn wait_status<K: StatusObject>(
    ns: &TestNamespace,
    name: &str,
    check: impl Fn(&ResourceStatus) -> Result<(), String>,
) -> K {
    let api = ns.api::<K>();
    wait_for(TIMEOUT, || async {
        let object = api.get(name).await.map_err(|e| e.to_string())?;
        let status = object.status().cloned().unwrap_or_default();
        check(&status).map_err(|e| format!("{name}: {e}; status: {status:?}"))?;
        Ok::<_, String>(object)
    })
    .await
    .unwrap_or_else(|error| panic!("status not reached: {error}"))
}

/// Ready=True, live with config `hash`.
pub fn live_with(hash: &str) -> impl Fn(&ResourceStatus) -> Result<(), String> + '_ {
    move |status| match (ready(Some(status)), status.config_hash.as_deref()) {
        (Some(c), Some(h)) if c.status == "True" && h == hash => Ok(()),
        _ => Err(format!("not live with {hash}")),
    }
}

/// The field managers that wrote an object, in order: who owns it.
pub fn field_managers(metadata: &ObjectMeta) -> Vec<String> {
    metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect()
}
