//! One scope reconcile: compile → write the config if its hash changed → publish the
//! outcome → read the gateways' reports → patch the statuses that changed (with Events on
//! Ready transitions). Runs only on the leader; every write is preceded by a fresh check
//! of the leader Lease.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;

use hermes_compiler::compile::{Kind, ObjectKey};
use hermes_compiler::contract::{self, EncodeError, GatewayReport};
use hermes_crds::api::ResourceStatus;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::core::object::HasStatus;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::time::Instant;

use crate::cache::ScopeCache;
use crate::error::Error;
use crate::leader::Leadership;
use crate::liveness::{self, Liveness};
use crate::metrics::Metrics;
use crate::publication::{self, LastPublished, OutcomeSink};
use crate::scope::{self, Compiled, PendingWrite};
use crate::status::{self, Object, ScopeOutcome, Written};

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Kubernetes Events.
    pub recorder: Recorder,
    /// Whether (and how surely) this replica leads.
    pub leadership: Arc<Leadership>,
    /// Where publication outcomes go, if anywhere.
    pub outcomes: Option<Arc<dyn OutcomeSink>>,
}

/// What a scope's worker remembers between reconciles.
#[derive(Default)]
pub struct ScopeMemory {
    last_published: LastPublished,
    /// Statuses patched whose watch event has not arrived yet: the object's
    /// resourceVersion before the patch, and the status sent.
    patched: HashMap<ObjectKey, (Option<String>, ResourceStatus)>,
    /// The last config written and when, until it is live.
    written: Option<(String, Instant)>,
    /// The last config written, until the cache sees it.
    pending_write: Option<PendingWrite>,
}

/// Reconcile the scope `cache` holds. `changed_since` is when the first change it handles
/// arrived. Returns when a gateway report expiring may change the statuses.
pub async fn reconcile(
    ctx: &Context,
    cache: &ScopeCache,
    memory: &mut ScopeMemory,
    changed_since: Option<Instant>,
) -> Result<Option<Timestamp>, Error> {
    let scope = cache.namespace.as_str();
    ctx.metrics
        .reconciles
        .get_or_create(&Metrics::scope(scope))
        .inc();
    let compiled = Compiled::from_cache(cache);
    let hash = compiled.hash().to_string();
    let mut confirmed = false;
    let mut wrote = false;
    let mut write_error = None;
    let written = match &compiled.encoded {
        Ok(encoded) => {
            let labels = Metrics::scope(scope);
            ctx.metrics
                .config_json_bytes
                .get_or_create(&labels)
                .set(encoded.json_bytes as i64);
            ctx.metrics
                .config_stored_bytes
                .get_or_create(&labels)
                .set(encoded.stored_bytes as i64);
            if scope::written_hash(cache, &mut memory.pending_write).as_deref()
                != Some(hash.as_str())
            {
                let version_before = scope::cached_config(cache).0;
                ctx.leadership.confirm().await?;
                confirmed = true;
                match scope::write_config(&ctx.client, cache, encoded).await {
                    Ok(()) => {
                        wrote = true;
                        ctx.metrics.configs_written.get_or_create(&labels).inc();
                        if let Some(since) = changed_since {
                            Metrics::observe(&ctx.metrics.publication_seconds, since.elapsed());
                        }
                        memory.written = Some((hash.clone(), Instant::now()));
                        memory.pending_write = Some(PendingWrite {
                            hash: hash.clone(),
                            version_before,
                        });
                        tracing::info!(
                            %scope,
                            config_hash = %hash,
                            encoding = encoded.encoding.as_str(),
                            bytes = encoded.stored_bytes,
                            diagnostics = compiled.output.diagnostics.len(),
                            "config written"
                        );
                    }
                    Err(error) => write_error = Some(error),
                }
            }
            Written::Yes
        }
        Err(error @ EncodeError::TooLarge { .. }) => {
            tracing::warn!(%scope, %error, "config not written; the previous config stays");
            Written::TooLarge(error.to_string())
        }
        Err(EncodeError::Encode(message)) => {
            return Err(Error::Encode(EncodeError::Encode(message.clone())));
        }
    };
    publish_outcome(
        ctx,
        scope,
        &compiled,
        memory,
        wrote,
        &written,
        write_error.as_ref(),
    );
    if let Some(error) = write_error {
        return Err(error.into());
    }

    let now = Timestamp::now();
    let leases = cache.gateway_leases();
    let reports: Vec<_> = leases.iter().map(|(_, r)| r.clone()).collect();
    let verdict = liveness::decide(&reports, &hash, now);
    forget_gone_gateways(ctx, cache, &leases, now).await;
    if let Liveness::Live { .. } = verdict.liveness
        && let Some((written_hash, at)) = &memory.written
        && *written_hash == hash
    {
        Metrics::observe(&ctx.metrics.live_seconds, at.elapsed());
        memory.written = None;
    }
    let outcome = ScopeOutcome {
        config: &compiled.output.config,
        diagnostics: &compiled.output.diagnostics,
        objects: &compiled.output.objects,
        written: &written,
        liveness: &verdict.liveness,
    };
    let mut statuses = StatusWriter {
        ctx,
        cache,
        memory,
        outcome,
        now: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        confirmed,
    };
    for tag in &compiled.resources.tags {
        statuses.sync(tag, Kind::Tag).await?;
    }
    for trigger in &compiled.resources.triggers {
        statuses.sync(trigger, Kind::Trigger).await?;
    }
    for table in &compiled.resources.lookup_tables {
        statuses.sync(table, Kind::LookupTable).await?;
    }
    let present = present_objects(&compiled);
    memory.patched.retain(|key, _| present.contains(key));
    Ok(verdict.recheck_at)
}

/// How long a gateway Lease stays after its report expired (a replica long replaced).
const GONE_GATEWAY_RETENTION: SignedDuration = SignedDuration::from_hours(1);

/// Delete the Leases of gateway replicas gone for an hour; best effort.
async fn forget_gone_gateways(
    ctx: &Context,
    cache: &ScopeCache,
    leases: &[(String, GatewayReport)],
    now: Timestamp,
) {
    let api: Api<Lease> = Api::namespaced(ctx.client.clone(), &cache.namespace);
    for name in liveness::long_gone(leases, now, GONE_GATEWAY_RETENTION) {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {
                tracing::info!(scope = %cache.namespace, lease = name, "removed the Lease of a gateway replica gone for an hour")
            }
            Err(error) => tracing::debug!(lease = name, %error, "gone gateway Lease not removed"),
        }
    }
}

fn present_objects(compiled: &Compiled) -> HashSet<ObjectKey> {
    let key = |kind, name: String| ObjectKey { kind, name };
    let resources = &compiled.resources;
    resources
        .tags
        .iter()
        .map(|o| key(Kind::Tag, o.name_any()))
        .chain(
            resources
                .triggers
                .iter()
                .map(|o| key(Kind::Trigger, o.name_any())),
        )
        .chain(
            resources
                .lookup_tables
                .iter()
                .map(|o| key(Kind::LookupTable, o.name_any())),
        )
        .collect()
}

fn publish_outcome(
    ctx: &Context,
    scope: &str,
    compiled: &Compiled,
    memory: &mut ScopeMemory,
    wrote: bool,
    written: &Written,
    write_error: Option<&kube::Error>,
) {
    let Some(sink) = &ctx.outcomes else {
        return;
    };
    let reason = match (written, write_error) {
        (Written::TooLarge(message), _) => Some(message.clone()),
        (_, Some(error)) => Some(format!("writing the config ConfigMap failed: {error}")),
        _ => None,
    };
    let time = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let message = publication::message(scope, &compiled.output, reason.as_deref(), &time);
    if !memory.last_published.should_publish(&message, wrote) {
        return;
    }
    let outcome = message.outcome.as_str();
    tracing::info!(%scope, config_hash = %message.config_hash, outcome, "publishing config outcome");
    let pending = sink.publish(message);
    let scope = scope.to_string();
    tokio::spawn(async move {
        if let Err(error) = pending.await {
            tracing::warn!(%scope, %error, "config outcome not published");
        }
    });
}

/// Patches one scope's statuses, confirming leadership before the first patch.
struct StatusWriter<'a> {
    ctx: &'a Context,
    cache: &'a ScopeCache,
    memory: &'a mut ScopeMemory,
    outcome: ScopeOutcome<'a>,
    now: String,
    confirmed: bool,
}

impl StatusWriter<'_> {
    async fn sync<K>(&mut self, object: &K, kind: Kind) -> Result<(), Error>
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
        let previous = match self.memory.patched.get(&key) {
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
            self.ctx.leadership.confirm().await?;
            self.confirmed = true;
        }
        let api: Api<K> = Api::namespaced(self.ctx.client.clone(), &self.cache.namespace);
        let patch = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "metadata": { "name": key.name },
            "status": desired,
        });
        let params = PatchParams::apply(contract::OPERATOR_FIELD_MANAGER).force();
        match api
            .patch_status(&key.name, &params, &Patch::Apply(&patch))
            .await
        {
            Ok(_) => {}
            // Deleted meanwhile: nothing to report on.
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
            Err(error) => return Err(error.into()),
        }
        self.ctx
            .metrics
            .status_patches
            .get_or_create(&Metrics::scope(&self.cache.namespace))
            .inc();
        if let Some(transition) = status::transition(previous.as_ref(), &desired) {
            self.event(object, &transition).await;
        }
        self.memory.patched.insert(key, (version, desired));
        Ok(())
    }

    async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        transition: &status::Transition,
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
            tracing::debug!(%error, "event not recorded");
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
