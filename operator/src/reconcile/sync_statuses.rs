//! Step 6, sync statuses: compute every object's status ([`status::desired`], pure) and
//! patch those that changed, with a Kubernetes Event on each Ready transition.
//! Leadership is confirmed before the first patch unless the write step just did.
//!
//! A status patched is remembered until its watch event reaches the cache, so that the
//! next reconcile compares with what was sent, not with the stale cached status (which
//! would patch again).

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use hermes_compiler::compile::{Kind, ObjectKey, Resources};
use hermes_compiler::contract;
use hermes_compiler::text::truncate;
use hermes_crds::api::ResourceStatus;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::core::object::HasStatus;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Context;
use crate::error::ReconcileError;
use crate::events::{Emit, StatusObjectGone, StatusPatched, TransitionEventFailed};
use crate::status::{self, NamespaceOutcome, Object, Transition};

/// Statuses patched whose watch event has not arrived yet: the object's resourceVersion
/// before the patch, and the status sent.
pub type Patched = HashMap<ObjectKey, (Option<String>, ResourceStatus)>;

/// What the step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusSync {
    /// Statuses patched.
    pub patched: usize,
    /// Objects deleted before their patch.
    pub gone: usize,
}

/// Patch the statuses of `resources` that differ from what `outcome` makes them.
/// `confirmed`: leadership was confirmed in this reconcile already.
pub async fn sync_statuses(
    ctx: &Context,
    namespace: &str,
    resources: &Resources,
    outcome: NamespaceOutcome<'_>,
    confirmed: bool,
    patched: &mut Patched,
) -> Result<StatusSync, ReconcileError> {
    let mut writer = StatusWriter {
        ctx,
        namespace,
        patched,
        outcome,
        now: k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        confirmed,
        counts: StatusSync::default(),
    };
    for tag in &resources.tags {
        writer.sync(tag, Kind::Tag).await?;
    }
    for trigger in &resources.triggers {
        writer.sync(trigger, Kind::Trigger).await?;
    }
    for table in &resources.lookup_tables {
        writer.sync(table, Kind::LookupTable).await?;
    }
    let counts = writer.counts;
    let present = present_objects(resources);
    patched.retain(|key, _| present.contains(key));
    Ok(counts)
}

/// Every object of `resources`, by key.
fn present_objects(resources: &Resources) -> HashSet<ObjectKey> {
    let key = |kind| move |name: String| ObjectKey { kind, name };
    let tags = resources
        .tags
        .iter()
        .map(|o| o.name_any())
        .map(key(Kind::Tag));
    let triggers = resources.triggers.iter().map(|o| o.name_any());
    let tables = resources.lookup_tables.iter().map(|o| o.name_any());
    tags.chain(triggers.map(key(Kind::Trigger)))
        .chain(tables.map(key(Kind::LookupTable)))
        .collect()
}

/// Patches one namespace's statuses, confirming leadership before the first patch.
struct StatusWriter<'a> {
    ctx: &'a Context,
    namespace: &'a str,
    patched: &'a mut Patched,
    outcome: NamespaceOutcome<'a>,
    now: String,
    confirmed: bool,
    counts: StatusSync,
}

impl StatusWriter<'_> {
    async fn sync<K>(&mut self, object: &K, kind: Kind) -> Result<(), ReconcileError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + HasStatus<Status = ResourceStatus>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let key = ObjectKey {
            kind,
            name: object.name_any(),
        };
        let version = object.meta().resource_version.clone();
        let previous = match self.patched.get(&key) {
            // Our patch is not in the cache yet: compare with what we sent.
            Some((before, sent)) if *before == version => Some(sent.clone()),
            _ => object.status().cloned(),
        };
        let desired = status::desired(
            Object {
                key: &key,
                generation: object.meta().generation,
                previous: previous.as_ref(),
            },
            self.outcome,
            &self.now,
        );
        if !status::differs(previous.as_ref(), &desired) {
            return Ok(());
        }
        if !self.confirmed {
            self.ctx
                .leadership
                .confirm()
                .await
                .map_err(ReconcileError::LeadershipBeforePatch)?;
            self.confirmed = true;
        }
        let api: Api<K> = Api::namespaced(self.ctx.client.clone(), self.namespace);
        let patch = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "metadata": { "name": key.name },
            "status": desired,
        });
        let params = PatchParams::apply(contract::OPERATOR_FIELD_MANAGER).force();
        let namespace = self.namespace;
        match api
            .patch_status(&key.name, &params, &Patch::Apply(&patch))
            .await
        {
            Ok(_) => {}
            // Deleted meanwhile: nothing to report on.
            Err(kube::Error::Api(status)) if status.code == 404 => {
                StatusObjectGone {
                    namespace,
                    object: &key,
                }
                .emit(&self.ctx.metrics);
                self.counts.gone += 1;
                return Ok(());
            }
            Err(source) => {
                return Err(ReconcileError::PatchStatus {
                    object: key,
                    source,
                });
            }
        }
        StatusPatched {
            namespace,
            object: &key,
        }
        .emit(&self.ctx.metrics);
        self.counts.patched += 1;
        if let Some(transition) = status::transition(previous.as_ref(), &desired) {
            self.record(object, &key, &transition).await;
        }
        self.patched.insert(key, (version, desired));
        Ok(())
    }

    /// Record a Kubernetes Event for a Ready transition; best effort.
    async fn record<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        key: &ObjectKey,
        transition: &Transition,
    ) {
        let event = Event {
            type_: if transition.normal {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: transition.reason.clone(),
            note: Some(truncate(&transition.note, 1000)),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(error) = self
            .ctx
            .recorder
            .publish(&event, &object.object_ref(&()))
            .await
        {
            TransitionEventFailed {
                namespace: self.namespace,
                object: key,
                error: &error,
            }
            .emit(&self.ctx.metrics);
        }
    }
}
