//! Status computing, pure: what a Tag, Trigger or LookupTable's status should say given
//! the namespace's compile outcome, whether the config was written, and whether the gateways
//! serve it, and whether each Tag's topic takes messages. The controller patches the result only when [`differs`] says it changed, so
//! statuses do not flap and reconciles do not loop on their own writes.

use hermes_compiler::compile::{Diagnostic, Kind, ObjectKey, ObjectOutcome, reason};
use hermes_compiler::config::GatewayConfig;
use hermes_crds::api::{DELIVERING, READY, RECONCILING, ResourceStatus, STALLED, StatusCondition};

use crate::delivery::{FailingTopics, TopicFailure};
use crate::liveness::{Behind, Liveness};

/// Delivering reason: nothing reports the topic failing.
///
/// The `Delivering` condition (Tags only) is `True` once a gateway serves the Tag and
/// neither a gateway nor the operator's topic check finds the topic failing; `False`
/// (reason `TopicNotFound`, `PermissionDenied`, `Unauthenticated`) when one does, and
/// then `Ready=False` and `Stalled=True` with the same reason: a Tag that is live but
/// cannot deliver must not read as healthy, and only a change outside the Tag (creating
/// the topic, granting the right) heals it. Absent while no gateway serves the Tag and
/// nothing is known to fail.
pub const REASON_TOPIC_AVAILABLE: &str = "TopicAvailable";

/// Ready reason: the object's generation is served by every live gateway replica.
pub const REASON_LIVE: &str = "Live";
/// Ready/Reconciling reason: compiled and written, but no gateway replica reports.
pub const REASON_AWAITING_GATEWAY: &str = "AwaitingGateway";
/// Ready/Reconciling reason: some live replicas still serve an older config.
pub const REASON_PROPAGATING: &str = "Propagating";
/// Ready/Stalled reason: a live replica refused the config.
pub const REASON_GATEWAY_REJECTED: &str = "GatewayRejected";
/// Ready/Stalled reason: the compiled config exceeds the ConfigMap size limit.
pub const REASON_CONFIG_TOO_LARGE: &str = "ConfigTooLarge";
/// Ready/Reconciling reason: the object waits for another object (a Trigger, a
/// LookupTable, a ConfigMap, the namespace's project) that is missing or not ready; the
/// message names it. Never `Stalled`: that object arriving heals it.
pub const REASON_DEPENDENCY_NOT_FOUND: &str = "DependencyNotFound";
/// Ready/Stalled reason: the compiler dropped the object without saying why (a bug).
pub const REASON_NOT_COMPILED: &str = "NotCompiled";

/// What happened to the namespace's config in this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// The ConfigMap holds this config (written now or before).
    Yes,
    /// The config exceeds the size limit; the previous one stays. The message says by how
    /// much.
    TooLarge(String),
}

/// Everything about the namespace that statuses depend on.
#[derive(Clone, Copy, Debug)]
pub struct NamespaceOutcome<'a> {
    /// The compiled config.
    pub config: &'a GatewayConfig,
    /// The compiler's diagnostics, sorted by object (as the compiler returns them).
    pub diagnostics: &'a [Diagnostic],
    /// The compiler's per-object outcomes, sorted by object (as the compiler returns
    /// them).
    pub objects: &'a [ObjectOutcome],
    /// Whether the config is in the ConfigMap.
    pub written: &'a Written,
    /// Whether the gateways serve `config.hash`.
    pub liveness: &'a Liveness,
    /// The topics that cannot take messages ([`crate::delivery::failing_topics`]).
    pub failing_topics: &'a FailingTopics,
}

/// One object whose status is computed.
#[derive(Clone, Copy, Debug)]
pub struct Object<'a> {
    /// Kind and name.
    pub key: &'a ObjectKey,
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
    /// Its current status.
    pub previous: Option<&'a ResourceStatus>,
}

/// The entries of `sorted` (sorted by object, as the compiler returns diagnostics and
/// outcomes) about `key`: a binary search, so a namespace of 20,000 objects costs
/// 20,000 searches rather than 400 million comparisons.
fn of_object<'a, T>(
    sorted: &'a [T],
    key: &ObjectKey,
    object: impl Fn(&T) -> &ObjectKey,
) -> &'a [T] {
    let start = sorted.partition_point(|entry| object(entry) < key);
    let len = sorted[start..].partition_point(|entry| object(entry) == key);
    &sorted[start..start + len]
}

/// The status `object` should have. `now` (RFC 3339) stamps conditions that changed.
pub fn desired(object: Object<'_>, namespace: NamespaceOutcome<'_>, now: &str) -> ResourceStatus {
    let diagnostics: Vec<&Diagnostic> = of_object(namespace.diagnostics, object.key, |d| &d.object)
        .iter()
        .collect();
    let accepted = of_object(namespace.objects, object.key, |o| &o.object)
        .first()
        .map_or(diagnostics.is_empty(), |o| o.accepted);
    let hash = namespace.config.hash.as_str();
    let previous_live = object
        .previous
        .map(|p| (p.live_generation, p.config_hash.clone()));
    let (conditions, live) = if !accepted {
        let live = match namespace.liveness {
            // The config without this object is what the gateways serve now.
            Liveness::Live { .. } if *namespace.written == Written::Yes => (None, None),
            _ => previous_live.unwrap_or_default(),
        };
        (rejection(&diagnostics), live)
    } else if let Written::TooLarge(message) = namespace.written {
        (
            stalled(REASON_CONFIG_TOO_LARGE, message),
            previous_live.unwrap_or_default(),
        )
    } else {
        match namespace.liveness {
            Liveness::Live { .. } => (
                vec![condition(
                    READY,
                    "True",
                    REASON_LIVE,
                    &format!(
                        "generation {} is served by every live gateway replica (config {})",
                        object.generation.unwrap_or_default(),
                        short(hash)
                    ),
                )],
                (object.generation, Some(hash.to_string())),
            ),
            Liveness::NoGateway => (
                reconciling(
                    REASON_AWAITING_GATEWAY,
                    &format!(
                        "compiled into config {}; no gateway replica reports in this namespace",
                        short(hash)
                    ),
                ),
                previous_live.unwrap_or_default(),
            ),
            Liveness::Pending { behind, .. } => {
                let refusals: Vec<&Behind> =
                    behind.iter().filter(|b| b.refused.is_some()).collect();
                let conditions = if refusals.is_empty() {
                    reconciling(
                        REASON_PROPAGATING,
                        &format!(
                            "config {} is written; waiting for gateway replicas: {}",
                            short(hash),
                            waiting_list(behind)
                        ),
                    )
                } else {
                    stalled(
                        REASON_GATEWAY_REJECTED,
                        &refusals
                            .iter()
                            .map(|b| {
                                format!(
                                    "gateway replica {} refused config {}: {}",
                                    b.replica,
                                    short(hash),
                                    b.refused.as_deref().unwrap_or_default()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                };
                (conditions, previous_live.unwrap_or_default())
            }
        }
    };
    let topic = (object.key.kind == Kind::Tag)
        .then(|| namespace.config.tags.get(&object.key.name))
        .flatten()
        .filter(|_| accepted && *namespace.written == Written::Yes)
        .map(|tag| tag.topic.as_str());
    let conditions = match topic {
        Some(topic) => with_delivery(conditions, topic, namespace),
        None => conditions,
    };
    let rows = (object.key.kind == Kind::LookupTable)
        .then(|| namespace.config.lookup_tables.get(&object.key.name))
        .flatten()
        .filter(|_| accepted)
        .map(|table| table.rows.len() as i64);
    let conditions = conditions
        .into_iter()
        .map(|c| stamp(c, object, now))
        .collect();
    ResourceStatus {
        observed_generation: object.generation,
        conditions,
        live_generation: live.0,
        config_hash: live.1,
        rows,
        // Written by the lookup feed under its own field manager, never by reconciles.
        feed: None,
    }
}

/// Whether `new` says something `old` does not (ignoring `lastTransitionTime`).
pub fn differs(old: Option<&ResourceStatus>, new: &ResourceStatus) -> bool {
    let Some(old) = old else { return true };
    let unstamped = |status: &ResourceStatus| {
        let mut status = status.clone();
        for condition in &mut status.conditions {
            condition.last_transition_time = None;
        }
        // The lookup feed's part, which reconciles leave to it.
        status.feed = None;
        status
    };
    unstamped(old) != unstamped(new)
}

/// A transition worth a Kubernetes Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// `false` for problems (Warning events).
    pub normal: bool,
    /// The new Ready reason.
    pub reason: String,
    /// The new Ready message.
    pub note: String,
}

/// The Ready transition from `old` to `new`, if its status or reason changed.
pub fn transition(old: Option<&ResourceStatus>, new: &ResourceStatus) -> Option<Transition> {
    let ready = |status: Option<&ResourceStatus>| {
        status
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == READY))
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    let after = new.conditions.iter().find(|c| c.type_ == READY)?;
    if ready(old) == Some((after.status.clone(), after.reason.clone())) {
        return None;
    }
    Some(Transition {
        normal: after.status == "True"
            || after.reason == REASON_AWAITING_GATEWAY
            || after.reason == REASON_PROPAGATING,
        reason: after.reason.clone(),
        note: after.message.clone(),
    })
}

/// The conditions of a compiled, written Tag publishing to `topic`: a failing topic
/// replaces them (`Ready=False`, `Stalled=True`, `Delivering=False`, one reason); a live
/// Tag whose topic is fine also gets `Delivering=True`.
fn with_delivery(
    conditions: Vec<StatusCondition>,
    topic: &str,
    namespace: NamespaceOutcome<'_>,
) -> Vec<StatusCondition> {
    if let Some(TopicFailure { reason, message }) = namespace.failing_topics.get(topic) {
        let mut failing = stalled(reason, message);
        failing.push(condition(DELIVERING, "False", reason, message));
        return failing;
    }
    let mut conditions = conditions;
    if let Liveness::Live { .. } = namespace.liveness {
        conditions.push(condition(
            DELIVERING,
            "True",
            REASON_TOPIC_AVAILABLE,
            &format!("no gateway replica reports a failure publishing to {topic}"),
        ));
    }
    conditions
}

/// The conditions of an object the compiler left out: `Stalled` with the first reason of
/// its own spec when it has an error of its own (no other change heals it), otherwise
/// `Reconciling` with `DependencyNotFound` (it waits for what its diagnostics name).
fn rejection(diagnostics: &[&Diagnostic]) -> Vec<StatusCondition> {
    let message = diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.field, d.message))
        .collect::<Vec<_>>()
        .join("; ");
    let own = diagnostics
        .iter()
        .find(|d| !reason::is_dependency(&d.reason));
    match (diagnostics.is_empty(), own) {
        (true, _) => stalled(
            REASON_NOT_COMPILED,
            "the compiler left this object out without a diagnostic",
        ),
        (false, Some(own)) => stalled(&own.reason, &message),
        (false, None) => reconciling(REASON_DEPENDENCY_NOT_FOUND, &message),
    }
}

fn waiting_list(behind: &[Behind]) -> String {
    behind
        .iter()
        .map(|b| match &b.serving {
            Some(hash) => format!("{} (serves {})", b.replica, short(hash)),
            None => format!("{} (no config yet)", b.replica),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn reconciling(reason: &str, message: &str) -> Vec<StatusCondition> {
    vec![
        condition(READY, "False", reason, message),
        condition(RECONCILING, "True", reason, message),
    ]
}

fn stalled(reason: &str, message: &str) -> Vec<StatusCondition> {
    vec![
        condition(READY, "False", reason, message),
        condition(STALLED, "True", reason, message),
    ]
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> StatusCondition {
    StatusCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: None,
        observed_generation: None,
    }
}

/// Keep the previous transition time when the condition's status did not change.
fn stamp(mut condition: StatusCondition, object: Object<'_>, now: &str) -> StatusCondition {
    let before = object
        .previous
        .and_then(|p| p.conditions.iter().find(|c| c.type_ == condition.type_));
    condition.last_transition_time = match before {
        Some(before) if before.status == condition.status => before
            .last_transition_time
            .clone()
            .or_else(|| Some(now.to_string())),
        _ => Some(now.to_string()),
    };
    condition.observed_generation = object.generation;
    condition
}

/// `sha256:0123456789ab` — enough of a hash for people.
fn short(hash: &str) -> &str {
    let end = hash.len().min("sha256:".len() + 12);
    hash.get(..end).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::TopicFailure;
    use hermes_compiler::config::{
        CompiledLookupTable, CompiledPayload, CompiledRow, CompiledTag, CompiledVariable,
    };

    const T0: &str = "2026-12-01T10:00:00Z";
    const T1: &str = "2026-12-01T10:05:00Z";

    fn key(kind: Kind, name: &str) -> ObjectKey {
        ObjectKey {
            kind,
            name: name.into(),
        }
    }

    fn missing_trigger() -> Diagnostic {
        Diagnostic {
            object: key(Kind::Tag, "promo"),
            field: "spec.firingTriggers[0]".into(),
            reason: "TriggerNotFound".into(),
            message: "trigger \"promo-view\" not found".into(),
        }
    }

    struct Fixture {
        config: GatewayConfig,
        diagnostics: Vec<Diagnostic>,
        written: Written,
        liveness: Liveness,
        failing: FailingTopics,
    }

    impl Fixture {
        fn new(liveness: Liveness) -> Self {
            Fixture {
                config: GatewayConfig::empty("shop"),
                diagnostics: Vec::new(),
                written: Written::Yes,
                liveness,
                failing: FailingTopics::new(),
            }
        }

        /// Compile in a Tag `name` publishing to `topic`.
        fn with_tag(mut self, name: &str, topic: &str) -> Self {
            self.config.tags.insert(
                name.into(),
                CompiledTag {
                    generation: Some(1),
                    firing_triggers: Vec::new(),
                    blocking_triggers: Vec::new(),
                    topic: topic.into(),
                    attributes: Vec::new(),
                    ordering_key: None,
                    payload: CompiledPayload::EventData {
                        allow: Vec::new(),
                        exclude: Vec::new(),
                        add: Vec::new(),
                    },
                    per_item: None,
                    require_analytics_storage: false,
                    require_ad_storage: false,
                    paused: false,
                },
            );
            self
        }

        /// `topic` fails for `reason`.
        fn failing(mut self, topic: &str, reason: &str) -> Self {
            self.failing.insert(
                topic.into(),
                TopicFailure {
                    reason: reason.into(),
                    message: format!("gateway replica gw-0 cannot publish to {topic}"),
                },
            );
            self
        }

        fn status(
            &self,
            key: &ObjectKey,
            generation: i64,
            previous: Option<&ResourceStatus>,
            now: &str,
        ) -> ResourceStatus {
            desired(
                Object {
                    key,
                    generation: Some(generation),
                    previous,
                },
                NamespaceOutcome {
                    config: &self.config,
                    diagnostics: &self.diagnostics,
                    objects: &[],
                    written: &self.written,
                    liveness: &self.liveness,
                    failing_topics: &self.failing,
                },
                now,
            )
        }
    }

    fn ready(status: &ResourceStatus) -> &StatusCondition {
        status.conditions.iter().find(|c| c.type_ == READY).unwrap()
    }

    #[test]
    fn live_object_is_ready_with_its_generation_and_hash() {
        let fixture = Fixture::new(Liveness::Live { replicas: 2 });
        let status = fixture.status(&key(Kind::Tag, "low-stock"), 3, None, T0);
        assert_eq!(ready(&status).status, "True");
        assert_eq!(ready(&status).reason, REASON_LIVE);
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.live_generation, Some(3));
        assert_eq!(
            status.config_hash.as_deref(),
            Some(fixture.config.hash.as_str())
        );
        assert_eq!(status.conditions.len(), 1);
    }

    #[test]
    fn without_gateways_the_object_awaits_one_and_keeps_its_last_live_generation() {
        let live = Fixture::new(Liveness::Live { replicas: 1 });
        let before = live.status(&key(Kind::Tag, "t"), 1, None, T0);
        let fixture = Fixture::new(Liveness::NoGateway);
        let status = fixture.status(&key(Kind::Tag, "t"), 2, Some(&before), T1);
        assert_eq!(ready(&status).status, "False");
        assert_eq!(ready(&status).reason, REASON_AWAITING_GATEWAY);
        let reconciling = status
            .conditions
            .iter()
            .find(|c| c.type_ == RECONCILING)
            .unwrap();
        assert_eq!(reconciling.status, "True");
        assert_eq!(status.live_generation, Some(1));
    }

    fn diagnostic(reason: &str, field: &str, message: &str) -> Diagnostic {
        Diagnostic {
            object: key(Kind::Tag, "promo"),
            field: field.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn own_spec_error_makes_the_object_stalled_naming_the_field() {
        let mut fixture = Fixture::new(Liveness::Live { replicas: 1 });
        fixture.diagnostics.push(diagnostic(
            "InvalidRegex",
            "spec.conditions[0].value",
            "invalid regular expression \"(\"",
        ));
        let status = fixture.status(&key(Kind::Tag, "promo"), 1, None, T0);
        assert_eq!(ready(&status).status, "False");
        assert_eq!(ready(&status).reason, "InvalidRegex");
        assert_eq!(
            ready(&status).message,
            "spec.conditions[0].value: invalid regular expression \"(\""
        );
        assert!(
            status
                .conditions
                .iter()
                .any(|c| c.type_ == STALLED && c.status == "True")
        );
        assert_eq!(status.live_generation, None);
        // Another object of the same namespace is unaffected.
        let other = fixture.status(&key(Kind::Tag, "low-stock"), 1, None, T0);
        assert_eq!(ready(&other).status, "True");
    }

    #[test]
    fn missing_dependency_is_reconciling_naming_it_never_stalled() {
        let mut fixture = Fixture::new(Liveness::Live { replicas: 1 });
        fixture.diagnostics.push(missing_trigger());
        let status = fixture.status(&key(Kind::Tag, "promo"), 1, None, T0);
        assert_eq!(ready(&status).status, "False");
        assert_eq!(ready(&status).reason, REASON_DEPENDENCY_NOT_FOUND);
        assert_eq!(
            ready(&status).message,
            "spec.firingTriggers[0]: trigger \"promo-view\" not found"
        );
        assert!(status.conditions.iter().all(|c| c.type_ != STALLED));
    }

    /// What kstatus (and so Flux's and Argo CD's health checks) makes of the conditions:
    /// `Stalled=True` is Failed, `Reconciling=True` is InProgress, `Ready=True` with no
    /// other condition is Current.
    fn kstatus(status: &ResourceStatus) -> &'static str {
        let holds = |type_: &str| {
            status
                .conditions
                .iter()
                .any(|c| c.type_ == type_ && c.status == "True")
        };
        if holds(STALLED) {
            "Failed"
        } else if holds(RECONCILING) {
            "InProgress"
        } else if holds(READY) {
            "Current"
        } else {
            "Unknown"
        }
    }

    /// One row of the kstatus table: a situation and the health and Ready reason it gets.
    struct Case {
        case: &'static str,
        diagnostics: Vec<Diagnostic>,
        liveness: Liveness,
        written: Written,
        health: &'static str,
        reason: &'static str,
    }

    impl Case {
        fn new(
            case: &'static str,
            diagnostics: Vec<Diagnostic>,
            liveness: Liveness,
            written: Written,
            health: &'static str,
            reason: &'static str,
        ) -> Self {
            Case {
                case,
                diagnostics,
                liveness,
                written,
                health,
                reason,
            }
        }
    }

    #[test]
    fn each_case_gets_the_conditions_kstatus_reads_as_intended() {
        let not_found = |reason: &str| vec![diagnostic(reason, "spec.x", "missing")];
        let cases = vec![
            Case::new(
                "live",
                vec![],
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "Current",
                REASON_LIVE,
            ),
            Case::new(
                "trigger missing",
                not_found("TriggerNotFound"),
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "InProgress",
                REASON_DEPENDENCY_NOT_FOUND,
            ),
            Case::new(
                "trigger not ready",
                not_found("TriggerNotReady"),
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "InProgress",
                REASON_DEPENDENCY_NOT_FOUND,
            ),
            Case::new(
                "lookup table missing",
                not_found("LookupTableNotFound"),
                Liveness::NoGateway,
                Written::Yes,
                "InProgress",
                REASON_DEPENDENCY_NOT_FOUND,
            ),
            Case::new(
                "lookup table not ready",
                not_found("LookupTableNotReady"),
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "InProgress",
                REASON_DEPENDENCY_NOT_FOUND,
            ),
            Case::new(
                "lookup ConfigMap missing",
                not_found("LookupSourceNotFound"),
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "InProgress",
                REASON_DEPENDENCY_NOT_FOUND,
            ),
            Case::new(
                "topic project missing",
                not_found("TopicProjectNotFound"),
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "InProgress",
                REASON_DEPENDENCY_NOT_FOUND,
            ),
            Case::new(
                "bad regex of its own",
                not_found("InvalidRegex"),
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "Failed",
                "InvalidRegex",
            ),
            Case::new(
                "own error beside a missing dependency",
                [not_found("TriggerNotFound"), not_found("InvalidTopic")].concat(),
                Liveness::Live { replicas: 1 },
                Written::Yes,
                "Failed",
                "InvalidTopic",
            ),
            Case::new(
                "no gateway",
                vec![],
                Liveness::NoGateway,
                Written::Yes,
                "InProgress",
                REASON_AWAITING_GATEWAY,
            ),
            Case::new(
                "config too large",
                vec![],
                Liveness::Live { replicas: 1 },
                Written::TooLarge("too large".into()),
                "Failed",
                REASON_CONFIG_TOO_LARGE,
            ),
        ];
        for Case {
            case,
            diagnostics,
            liveness,
            written,
            health,
            reason,
        } in cases
        {
            let mut fixture = Fixture::new(liveness);
            fixture.diagnostics = diagnostics;
            fixture.written = written;
            let status = fixture.status(&key(Kind::Tag, "promo"), 1, None, T0);
            assert_eq!(kstatus(&status), health, "{case}");
            assert_eq!(ready(&status).reason, reason, "{case}");
            let expected_ready = if health == "Current" { "True" } else { "False" };
            assert_eq!(ready(&status).status, expected_ready, "{case}");
        }
    }

    fn delivering(status: &ResourceStatus) -> Option<&StatusCondition> {
        status.conditions.iter().find(|c| c.type_ == DELIVERING)
    }

    #[test]
    fn a_live_tag_whose_topic_is_fine_is_ready_and_delivering() {
        let fixture = Fixture::new(Liveness::Live { replicas: 1 })
            .with_tag("low-stock", "projects/p/topics/low-stock")
            .failing("projects/p/topics/other", "TopicNotFound");
        let status = fixture.status(&key(Kind::Tag, "low-stock"), 1, None, T0);
        assert_eq!(ready(&status).status, "True");
        let delivering = delivering(&status).unwrap();
        assert_eq!(delivering.status, "True");
        assert_eq!(delivering.reason, REASON_TOPIC_AVAILABLE);
        assert_eq!(kstatus(&status), "Current");
    }

    #[test]
    fn a_live_tag_on_a_failing_topic_is_not_ready_stalled_and_not_delivering() {
        let fixture = Fixture::new(Liveness::Live { replicas: 1 })
            .with_tag("promo", "projects/p/topics/missing")
            .failing("projects/p/topics/missing", "TopicNotFound");
        let status = fixture.status(&key(Kind::Tag, "promo"), 2, None, T0);
        let delivering = delivering(&status).unwrap();
        assert_eq!(delivering.status, "False");
        assert_eq!(delivering.reason, "TopicNotFound");
        assert_eq!(
            delivering.message,
            "gateway replica gw-0 cannot publish to projects/p/topics/missing"
        );
        assert_eq!(ready(&status).status, "False");
        assert_eq!(ready(&status).reason, "TopicNotFound");
        assert_eq!(kstatus(&status), "Failed");
        // It is live all the same: the gateways serve this generation.
        assert_eq!(status.live_generation, Some(2));
        let event = transition(None, &status).unwrap();
        assert!(!event.normal);
        assert_eq!(event.reason, "TopicNotFound");
    }

    #[test]
    fn a_missing_topic_shows_even_before_a_gateway_serves_the_tag() {
        let fixture = Fixture::new(Liveness::NoGateway)
            .with_tag("promo", "projects/p/topics/missing")
            .failing("projects/p/topics/missing", "TopicNotFound");
        let status = fixture.status(&key(Kind::Tag, "promo"), 1, None, T0);
        assert_eq!(ready(&status).reason, "TopicNotFound");
        assert_eq!(delivering(&status).unwrap().status, "False");
        assert_eq!(status.live_generation, None);
        // Without a failure and without a gateway, delivery is not known yet.
        let unknown = Fixture::new(Liveness::NoGateway).with_tag("promo", "projects/p/topics/t");
        let status = unknown.status(&key(Kind::Tag, "promo"), 1, None, T0);
        assert_eq!(delivering(&status), None);
    }

    #[test]
    fn a_tag_rejected_for_its_own_error_is_not_judged_on_its_topic() {
        let mut fixture = Fixture::new(Liveness::Live { replicas: 1 })
            .with_tag("promo", "projects/p/topics/missing")
            .failing("projects/p/topics/missing", "TopicNotFound");
        fixture
            .diagnostics
            .push(diagnostic("InvalidRegex", "spec.x", "bad"));
        let status = fixture.status(&key(Kind::Tag, "promo"), 1, None, T0);
        assert_eq!(ready(&status).reason, "InvalidRegex");
        assert_eq!(delivering(&status), None);
    }

    #[test]
    fn the_topic_healing_clears_the_failure() {
        let failing = Fixture::new(Liveness::Live { replicas: 1 })
            .with_tag("promo", "projects/p/topics/t")
            .failing("projects/p/topics/t", "PermissionDenied");
        let before = failing.status(&key(Kind::Tag, "promo"), 1, None, T0);
        let healed =
            Fixture::new(Liveness::Live { replicas: 1 }).with_tag("promo", "projects/p/topics/t");
        let after = healed.status(&key(Kind::Tag, "promo"), 1, Some(&before), T1);
        assert_eq!(ready(&after).status, "True");
        assert_eq!(delivering(&after).unwrap().status, "True");
        assert_eq!(
            delivering(&after).unwrap().last_transition_time.as_deref(),
            Some(T1)
        );
        assert!(after.conditions.iter().all(|c| c.type_ != STALLED));
        assert!(transition(Some(&before), &after).unwrap().normal);
    }

    #[test]
    fn pending_replicas_are_named_and_a_refusal_stalls() {
        let behind = vec![Behind {
            replica: "gw-1".into(),
            serving: Some("sha256:00112233445566778899".into()),
            refused: None,
        }];
        let fixture = Fixture::new(Liveness::Pending {
            behind: behind.clone(),
            serving: 1,
        });
        let status = fixture.status(&key(Kind::Trigger, "t"), 1, None, T0);
        assert_eq!(ready(&status).reason, REASON_PROPAGATING);
        assert!(
            ready(&status)
                .message
                .contains("gw-1 (serves sha256:001122334455)")
        );

        let refused = Fixture::new(Liveness::Pending {
            behind: vec![Behind {
                refused: Some("regex too big".into()),
                ..behind[0].clone()
            }],
            serving: 0,
        });
        let status = refused.status(&key(Kind::Trigger, "t"), 1, None, T0);
        assert_eq!(ready(&status).reason, REASON_GATEWAY_REJECTED);
        assert!(status.conditions.iter().any(|c| c.type_ == STALLED));
    }

    #[test]
    fn too_large_config_stalls_every_accepted_object() {
        let mut fixture = Fixture::new(Liveness::Live { replicas: 1 });
        fixture.written = Written::TooLarge("compiled config is 3000000 bytes".into());
        let status = fixture.status(&key(Kind::LookupTable, "stock"), 4, None, T0);
        assert_eq!(ready(&status).reason, REASON_CONFIG_TOO_LARGE);
        assert_eq!(status.live_generation, None);
    }

    #[test]
    fn unchanged_status_keeps_its_transition_time_and_needs_no_patch() {
        let fixture = Fixture::new(Liveness::Live { replicas: 1 });
        let first = fixture.status(&key(Kind::Tag, "t"), 1, None, T0);
        let again = fixture.status(&key(Kind::Tag, "t"), 1, Some(&first), T1);
        assert_eq!(ready(&again).last_transition_time.as_deref(), Some(T0));
        assert!(!differs(Some(&first), &again));
        assert_eq!(transition(Some(&first), &again), None);

        let newer = fixture.status(&key(Kind::Tag, "t"), 2, Some(&first), T1);
        assert!(differs(Some(&first), &newer));
        // Still Ready=True: the time of the last status change stays.
        assert_eq!(ready(&newer).last_transition_time.as_deref(), Some(T0));
    }

    #[test]
    fn ready_flip_is_a_transition_with_a_new_time() {
        let live = Fixture::new(Liveness::Live { replicas: 1 });
        let first = live.status(&key(Kind::Tag, "promo"), 1, None, T0);
        let mut broken = Fixture::new(Liveness::Live { replicas: 1 });
        broken.diagnostics.push(missing_trigger());
        let second = broken.status(&key(Kind::Tag, "promo"), 2, Some(&first), T1);
        assert_eq!(ready(&second).last_transition_time.as_deref(), Some(T1));
        let event = transition(Some(&first), &second).unwrap();
        assert!(!event.normal);
        assert_eq!(event.reason, REASON_DEPENDENCY_NOT_FOUND);
        assert!(transition(None, &first).unwrap().normal);
    }

    #[test]
    fn lookup_table_status_counts_its_compiled_rows() {
        let mut fixture = Fixture::new(Liveness::Live { replicas: 1 });
        fixture.config.lookup_tables.insert(
            "stock".into(),
            CompiledLookupTable {
                generation: Some(1),
                input: CompiledVariable::Constant { value: "x".into() },
                match_type: Default::default(),
                rows: vec![
                    CompiledRow {
                        key: "a".into(),
                        value: "1".into(),
                    };
                    3
                ],
                default: None,
            },
        );
        let status = fixture.status(&key(Kind::LookupTable, "stock"), 1, None, T0);
        assert_eq!(status.rows, Some(3));
    }
}
