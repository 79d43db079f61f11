//! Test fixtures for the reconcile pipeline without a cluster (after kube-rs'
//! `controller-rs`): a [`World`] holds a namespace cache filled by hand and a
//! [`Context`] whose client talks to an [`ApiServerVerifier`], which expects exactly the
//! API calls a scenario lists, in order, answers each, and fails on any other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use hermes_compiler::contract;
use hermes_crds::api::{Tag, Trigger};
use http::{Method, Request, Response, StatusCode};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{Context, NamespaceMemory, Reconciled, reconcile};
use crate::cache::{NamespaceCache, StoreWriters};
use crate::error::ReconcileError;
use crate::leader::{LeaderOptions, Leadership};
use crate::metrics::Metrics;
use crate::publication::{OutcomeSink, PublicationError, PublicationMessage};

/// The namespace every scenario reconciles.
pub const NAMESPACE: &str = "shop";

/// One API call a scenario expects, and the answer.
pub struct Call {
    method: Method,
    path: String,
    reply: Reply,
}

/// How the verifier answers a call.
pub enum Reply {
    /// 200 with the request's body (what a server-side apply returns, near enough).
    Echo,
    /// 201 with the request's body (a create).
    Created,
    /// 200 with this object.
    Object(Value),
    /// A `Status` failure with this code.
    Failure(u16),
}

impl Call {
    /// The server-side apply of the config ConfigMap.
    pub fn apply_config_map(reply: Reply) -> Self {
        Call {
            method: Method::PATCH,
            path: format!(
                "/api/v1/namespaces/{NAMESPACE}/configmaps/{}",
                contract::DEFAULT_CONFIG_MAP
            ),
            reply,
        }
    }

    /// A status patch of `plural`/`name` (`tags`, `triggers`).
    pub fn patch_status(plural: &str, name: &str, reply: Reply) -> Self {
        Call {
            method: Method::PATCH,
            path: format!("/apis/hermes.io/v1alpha1/namespaces/{NAMESPACE}/{plural}/{name}/status"),
            reply,
        }
    }

    /// A Kubernetes Event recorded.
    pub fn record_event() -> Self {
        Call {
            method: Method::POST,
            path: format!("/apis/events.k8s.io/v1/namespaces/{NAMESPACE}/events"),
            reply: Reply::Created,
        }
    }

    /// A read of the leader Lease.
    pub fn read_leader_lease(reply: Reply) -> Self {
        Call {
            method: Method::GET,
            path: format!(
                "/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{}",
                contract::OPERATOR_LEASE
            ),
            reply,
        }
    }
}

/// A request the verifier answered: its method, path and JSON body.
#[derive(Debug)]
pub struct Answered {
    pub method: Method,
    pub path: String,
    pub body: Value,
}

/// Stands in for the API server: expects the calls of a scenario, in order.
pub struct ApiServerVerifier(tower_test::mock::Handle<Request<Body>, Response<Body>>);

impl ApiServerVerifier {
    /// Answer `calls` in order, then fail on any further call. Completes when every
    /// client is dropped.
    pub fn run(self, calls: Vec<Call>) -> JoinHandle<Vec<Answered>> {
        let mut handle = self.0;
        tokio::spawn(async move {
            let mut answered = Vec::new();
            for call in calls {
                let Some((request, send)) = handle.next_request().await else {
                    panic!(
                        "expected {} {}, but no more calls came",
                        call.method, call.path
                    );
                };
                let (method, path) = (request.method().clone(), request.uri().path().to_string());
                assert_eq!(
                    (&method, path.as_str()),
                    (&call.method, call.path.as_str()),
                    "unexpected call"
                );
                let bytes = request.into_body().collect_bytes().await.unwrap();
                let body: Value = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).unwrap()
                };
                let (status, reply) = match call.reply {
                    Reply::Echo => (StatusCode::OK, body.clone()),
                    Reply::Created => (StatusCode::CREATED, body.clone()),
                    Reply::Object(object) => (StatusCode::OK, object),
                    Reply::Failure(code) => (
                        StatusCode::from_u16(code).unwrap(),
                        json!({
                            "kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": "from the verifier",
                            "reason": "Test", "code": code,
                        }),
                    ),
                };
                let response = Response::builder()
                    .status(status)
                    .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                    .unwrap();
                send.send_response(response);
                answered.push(Answered { method, path, body });
            }
            if let Some((request, _)) = handle.next_request().await {
                panic!(
                    "unexpected call after the scenario: {} {}",
                    request.method(),
                    request.uri().path()
                );
            }
            answered
        })
    }
}

/// Outcome messages, kept instead of published.
#[derive(Default)]
pub struct KeptOutcomes(pub Mutex<Vec<PublicationMessage>>);

impl OutcomeSink for KeptOutcomes {
    fn publish(
        &self,
        message: PublicationMessage,
    ) -> BoxFuture<'static, Result<(), PublicationError>> {
        if let Ok(mut kept) = self.0.lock() {
            kept.push(message);
        }
        Box::pin(async { Ok(()) })
    }
}

/// Who this replica is to the election.
pub enum Role {
    /// The leader, never re-reading a Lease (`--no-leader-election`).
    Leader,
    /// Not the leader.
    Follower,
    /// The election's leader, which re-reads the Lease before writing.
    ElectedLeader,
}

/// A namespace cache filled by hand, and a context talking to a verifier.
pub struct World {
    pub cache: NamespaceCache,
    pub writers: StoreWriters,
    pub memory: NamespaceMemory,
    pub metrics: Arc<Metrics>,
    pub outcomes: Arc<KeptOutcomes>,
    ctx: Option<Context>,
    verifier: Option<ApiServerVerifier>,
    answering: Option<JoinHandle<Vec<Answered>>>,
}

impl World {
    /// A namespace with Trigger `page-view` and Tag `views` firing on it, no ConfigMap
    /// and no gateway.
    pub fn new(role: Role) -> Self {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, NAMESPACE);
        let metrics = Arc::new(Metrics::new());
        let outcomes = Arc::new(KeptOutcomes::default());
        let lease = || {
            let options = LeaderOptions {
                namespace: NAMESPACE.into(),
                lease_name: contract::OPERATOR_LEASE.into(),
                identity: "op-a".into(),
                duration: Duration::from_secs(15),
            };
            (Api::namespaced(client.clone(), NAMESPACE), options)
        };
        let leadership = match role {
            Role::Leader => Leadership::always(),
            Role::Follower => Leadership::fixed(false, None),
            Role::ElectedLeader => Leadership::fixed(true, Some(lease())),
        };
        let ctx = Context {
            client: client.clone(),
            metrics: metrics.clone(),
            recorder: Recorder::new(
                client,
                Reporter {
                    controller: contract::OPERATOR_FIELD_MANAGER.into(),
                    instance: Some("op-a".into()),
                },
            ),
            leadership: Arc::new(leadership),
            outcomes: Some(outcomes.clone()),
            topic_check: None,
            config_map_limits: contract::ConfigMapLimits::default(),
        };
        let (cache, mut writers) =
            NamespaceCache::unwatched(NAMESPACE, contract::DEFAULT_CONFIG_MAP);
        writers
            .triggers
            .apply_watcher_event(&watcher::Event::Apply(trigger()));
        writers
            .tags
            .apply_watcher_event(&watcher::Event::Apply(tag()));
        World {
            cache,
            writers,
            memory: NamespaceMemory::default(),
            metrics,
            outcomes,
            ctx: Some(ctx),
            verifier: Some(ApiServerVerifier(handle)),
            answering: None,
        }
    }

    /// Put the ConfigMap holding the config the cache compiles to into the cache, as if
    /// written before.
    pub fn config_map_up_to_date(&mut self) {
        let compiled = super::compile(
            &self.cache,
            contract::ConfigMapLimits::default(),
            &self.metrics,
        )
        .unwrap();
        let super::Fit::Fits(encoded) = &compiled.fit else {
            panic!("the fixture's config fits");
        };
        let mut config_map: ConfigMap =
            encoded.to_config_map(contract::DEFAULT_CONFIG_MAP, NAMESPACE);
        config_map.metadata.resource_version = Some("7".into());
        self.writers
            .config_maps
            .apply_watcher_event(&watcher::Event::Apply(config_map));
    }

    /// Start the verifier on the calls the whole scenario expects, in order.
    pub fn expect(&mut self, calls: Vec<Call>) {
        let verifier = self.verifier.take().expect("one verifier per scenario");
        self.answering = Some(verifier.run(calls));
    }

    /// Reconcile once (bounded: a hang fails the test).
    pub async fn reconcile(&mut self) -> Result<Reconciled, ReconcileError> {
        let ctx = self.ctx.as_ref().expect("reconcile before finish");
        tokio::time::timeout(
            Duration::from_secs(5),
            reconcile(ctx, &self.cache, &mut self.memory, None),
        )
        .await
        .expect("reconcile finishes")
    }

    /// Drop the client and return the calls answered; fails if a call was missing or
    /// another came.
    pub async fn finish(mut self) -> Vec<Answered> {
        self.ctx = None;
        let answering = self.answering.take().expect("expect before finish");
        tokio::time::timeout(Duration::from_secs(5), answering)
            .await
            .expect("verifier finishes")
            .expect("every call as expected, and no other")
    }
}

fn trigger() -> Trigger {
    serde_json::from_value(json!({
        "apiVersion": "hermes.io/v1alpha1", "kind": "Trigger",
        "metadata": {"name": "page-view", "namespace": NAMESPACE, "generation": 1,
                     "resourceVersion": "1"},
        "spec": {"event": {"name": "page_view"}},
    }))
    .unwrap()
}

fn tag() -> Tag {
    serde_json::from_value(json!({
        "apiVersion": "hermes.io/v1alpha1", "kind": "Tag",
        "metadata": {"name": "views", "namespace": NAMESPACE, "generation": 1,
                     "resourceVersion": "2"},
        "spec": {"firingTriggers": ["page-view"],
                 "topic": "projects/hermes-local/topics/views"},
    }))
    .unwrap()
}

/// The Tag as the API server returns it after a status patch.
pub fn tag_object() -> Value {
    serde_json::to_value(tag()).unwrap()
}

/// The Trigger as the API server returns it after a status patch.
pub fn trigger_object() -> Value {
    serde_json::to_value(trigger()).unwrap()
}

/// The leader Lease, held by `holder` and renewed just now.
pub fn leader_lease(holder: &str) -> Value {
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": contract::OPERATOR_LEASE, "namespace": NAMESPACE},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                 "renewTime": k8s_openapi::jiff::Timestamp::now().to_string()},
    }))
    .unwrap();
    serde_json::to_value(lease).unwrap()
}
