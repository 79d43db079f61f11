//! Step 6, sync statuses: compute every object's status ([`status::desired`], pure) and
//! patch those that changed, with a Kubernetes Event on each Ready transition.
//! Leadership is confirmed before the first patch unless the write step just did.
//!
//! Patches run [`PATCH_CONCURRENCY`] at a time: at 10,000 objects one after the other
//! would take minutes. A change arriving meanwhile stops the step after the patches in
//! flight (and at least one round of them): every status carries the config hash, so the
//! next reconcile rewrites them all anyway, and the new config should not wait behind
//! thousands of statuses of the old one.
//!
//! A status patched is remembered until its watch event reaches the cache, so that the
//! next reconcile compares with what was sent, not with the stale cached status (which
//! would patch again).

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hermes_compiler::compile::{Kind, ObjectKey, Resources};
use hermes_compiler::contract;
use hermes_compiler::text::truncate;
use hermes_crds::api::ResourceStatus;
use k8s_openapi::NamespaceResourceScope;
use kube::api::PatchParams;
use kube::core::object::HasStatus;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Context;
use crate::cache::ChangeSignal;
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
    /// Statuses left for the next reconcile because a change arrived.
    pub deferred: usize,
}

/// Status patches in flight at once: a namespace of 10,000 Tags and their Triggers gets
/// its first statuses in seconds rather than minutes, while the API server (whose default
/// in-flight limit is 400 mutating requests) is never flooded by one namespace.
pub const PATCH_CONCURRENCY: usize = 32;

/// Patch the statuses of `resources` that differ from what `outcome` makes them, until
/// `changes` is raised. `confirmed`: leadership was confirmed in this reconcile already.
pub async fn sync_statuses(
    ctx: &Context,
    namespace: &str,
    resources: &Resources,
    outcome: NamespaceOutcome<'_>,
    confirmed: bool,
    patched: &mut Patched,
    changes: &ChangeSignal,
) -> Result<StatusSync, ReconcileError> {
    let mut writer = StatusWriter {
        ctx,
        namespace,
        patched,
        outcome,
        changes,
        now: k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        confirmed,
        counts: StatusSync::default(),
    };
    writer.sync(&resources.tags, Kind::Tag).await?;
    writer.sync(&resources.triggers, Kind::Trigger).await?;
    writer
        .sync(&resources.lookup_tables, Kind::LookupTable)
        .await?;
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
    changes: &'a ChangeSignal,
    now: String,
    confirmed: bool,
    counts: StatusSync,
}

/// One status to patch: what it was and what it becomes.
struct Change<'o, K> {
    object: &'o K,
    key: ObjectKey,
    /// The object's resourceVersion before the patch.
    version: Option<String>,
    previous: Option<ResourceStatus>,
    desired: ResourceStatus,
}

/// What became of one patch.
enum PatchOutcome<'o, K> {
    /// Patched: remember what was sent.
    Done(Box<Change<'o, K>>),
    /// The object was deleted meanwhile.
    Gone,
    Failed(ReconcileError),
}

impl StatusWriter<'_> {
    /// Patch the statuses of `objects` (all of one kind) that changed, at most
    /// [`PATCH_CONCURRENCY`] at a time. Every patch that succeeded is remembered even when
    /// another failed; the first failure is returned.
    async fn sync<K>(&mut self, objects: &[K], kind: Kind) -> Result<(), ReconcileError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + HasStatus<Status = ResourceStatus>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let changes: Vec<Change<'_, K>> = objects
            .iter()
            .filter_map(|object| self.change(object, kind))
            .collect();
        if changes.is_empty() {
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
        // A plain loop over `FuturesUnordered`: stream combinators' closures over borrowed
        // changes defeat the compiler's `Send` proof for the worker task. Each patch's
        // future is made only when it starts (20,000 made up front weigh 100s of MB).
        let total = changes.len();
        let mut waiting = changes.into_iter();
        let mut running = FuturesUnordered::new();
        let mut results: Vec<PatchOutcome<'_, K>> = Vec::with_capacity(total);
        let mut started = 0;
        loop {
            while running.len() < PATCH_CONCURRENCY
                && (started < PATCH_CONCURRENCY || !self.changes.is_raised())
            {
                let Some(change) = waiting.next() else { break };
                running.push(self.patch(change));
                started += 1;
            }
            match running.next().await {
                Some(result) => results.push(result),
                None => break,
            }
        }
        drop((waiting, running));
        self.counts.deferred += total - started;
        let mut first_error = None;
        for result in results {
            match result {
                PatchOutcome::Done(change) => {
                    self.counts.patched += 1;
                    let Change {
                        key,
                        version,
                        desired,
                        ..
                    } = *change;
                    self.patched.insert(key, (version, desired));
                }
                PatchOutcome::Gone => self.counts.gone += 1,
                PatchOutcome::Failed(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The patch `object` needs, if its status changes.
    fn change<'o, K>(&self, object: &'o K, kind: Kind) -> Option<Change<'o, K>>
    where
        K: Resource<DynamicType = ()> + HasStatus<Status = ResourceStatus>,
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
        status::differs(previous.as_ref(), &desired).then_some(Change {
            object,
            key,
            version,
            previous,
            desired,
        })
    }

    /// Server-side apply one status, then record its Ready transition, if any.
    async fn patch<'o, K>(&self, change: Change<'o, K>) -> PatchOutcome<'o, K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api: Api<K> = Api::namespaced(self.ctx.client.clone(), self.namespace);
        let key = &change.key;
        let body = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "metadata": { "name": key.name },
            "status": change.desired,
        });
        let params = PatchParams::apply(contract::OPERATOR_FIELD_MANAGER).force();
        let namespace = self.namespace;
        match api
            .patch_status(&key.name, &params, &kube::api::Patch::Apply(&body))
            .await
        {
            Ok(_) => {}
            // Deleted meanwhile: nothing to report on.
            Err(kube::Error::Api(status)) if status.code == 404 => {
                StatusObjectGone {
                    namespace,
                    object: key,
                }
                .emit(&self.ctx.metrics);
                return PatchOutcome::Gone;
            }
            Err(source) => {
                return PatchOutcome::Failed(ReconcileError::PatchStatus {
                    object: key.clone(),
                    source,
                });
            }
        }
        StatusPatched {
            namespace,
            object: key,
        }
        .emit(&self.ctx.metrics);
        if let Some(transition) = status::transition(change.previous.as_ref(), &change.desired) {
            self.record(change.object, key, &transition).await;
        }
        PatchOutcome::Done(Box::new(change))
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
