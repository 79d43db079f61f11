//! Does each Tag's topic exist? Asked of Pub/Sub's admin API (`TopicAdmin.GetTopic`,
//! which needs `pubsub.topics.get`: `roles/pubsub.viewer` on the topics), so that a Tag
//! publishing to a missing topic is not called `Ready` before its first hit is
//! dead-lettered.
//!
//! The check only ever *adds* a finding: a topic that exists, or one the operator may not
//! look at (PermissionDenied, Unauthenticated) or cannot reach, blocks nothing; the
//! gateway's own report (`Delivering`) still tells when publishing fails. Results are
//! kept for a TTL, and a topic is not checked again while its answer is fresh, so
//! reconciles do not call Pub/Sub each time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::client::TopicAdmin;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cache::ChangeSignal;

/// How the operator checks topics.
#[derive(Clone, Debug)]
pub struct TopicCheckOptions {
    /// `HOST:PORT` of a Pub/Sub emulator (`PUBSUB_EMULATOR_HOST`); `None`: Google Cloud
    /// with Application Default Credentials.
    pub emulator_host: Option<String>,
    /// How long an answer is trusted before the topic is checked again.
    pub ttl: Duration,
    /// How long a reconcile waits for answers it does not have yet; later answers raise
    /// the namespace's change signal instead.
    pub wait: Duration,
}

impl TopicCheckOptions {
    /// A minute's TTL, two seconds' wait.
    pub fn new(emulator_host: Option<String>) -> Self {
        TopicCheckOptions {
            emulator_host,
            ttl: Duration::from_secs(60),
            wait: Duration::from_secs(2),
        }
    }
}

/// What Pub/Sub said about one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicState {
    /// It exists.
    Exists,
    /// It does not exist (`NotFound`).
    Missing,
    /// No answer worth acting on: the operator may not look (`forbidden`) or Pub/Sub could
    /// not be reached (`unreachable`). Never blocks readiness.
    Unknown {
        /// `forbidden` or `unreachable` (the metric's outcome).
        why: &'static str,
        /// The client's error.
        error: String,
    },
}

impl TopicState {
    /// The `outcome` label of `hermes_operator_topic_checks_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            TopicState::Exists => "exists",
            TopicState::Missing => "missing",
            TopicState::Unknown { why, .. } => why,
        }
    }
}

/// Asks whether a topic exists (Pub/Sub in operation, a fake in unit tests).
pub trait TopicLookup: Send + Sync {
    /// The state of `topic` (`projects/P/topics/T`); never fails: errors are `Unknown`.
    fn lookup(&self, topic: &str) -> BoxFuture<'static, TopicState>;
}

/// Why the admin client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TopicCheckError {
    /// Building the `TopicAdmin` client failed (e.g. no credentials found).
    #[error("the Pub/Sub admin client cannot be built: {0}")]
    BuildClient(#[source] google_cloud_gax::client_builder::Error),
}

/// The real lookup: `TopicAdmin.GetTopic`, each call bounded by a timeout.
pub struct PubSubTopics {
    admin: TopicAdmin,
    timeout: Duration,
}

impl PubSubTopics {
    /// Build the admin client (the emulator's when `emulator_host` is set).
    pub async fn connect(options: &TopicCheckOptions) -> Result<Self, TopicCheckError> {
        let mut builder = TopicAdmin::builder();
        if let Some(host) = options.emulator_host.as_deref().filter(|h| !h.is_empty()) {
            builder = builder
                .with_endpoint(format!("http://{host}"))
                .with_credentials(
                    google_cloud_auth::credentials::anonymous::Builder::new().build(),
                );
        }
        let admin = builder
            .build()
            .await
            .map_err(TopicCheckError::BuildClient)?;
        Ok(PubSubTopics {
            admin,
            timeout: Duration::from_secs(10),
        })
    }
}

impl TopicLookup for PubSubTopics {
    fn lookup(&self, topic: &str) -> BoxFuture<'static, TopicState> {
        let call = self.admin.get_topic().set_topic(topic).send();
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(_)) => TopicState::Exists,
                Ok(Err(error)) => match error.status().map(|status| status.code) {
                    Some(Code::NotFound) => TopicState::Missing,
                    Some(Code::PermissionDenied | Code::Unauthenticated) => TopicState::Unknown {
                        why: "forbidden",
                        error: error.to_string(),
                    },
                    _ => TopicState::Unknown {
                        why: "unreachable",
                        error: error.to_string(),
                    },
                },
                Err(_) => TopicState::Unknown {
                    why: "unreachable",
                    error: format!("no answer within {timeout:?}"),
                },
            }
        })
    }
}

/// One namespace's answers, kept for the TTL, and the checks under way.
#[derive(Default)]
pub struct TopicChecks {
    answers: HashMap<String, Answer>,
    running: HashMap<String, Running>,
}

struct Answer {
    state: TopicState,
    at: Instant,
}

/// A check under way; `abandoned` once a reconcile stopped waiting for it, so that its
/// end raises the namespace's signal.
struct Running {
    task: JoinHandle<TopicState>,
    abandoned: Arc<AtomicBool>,
}

/// What a check step knows: the answers that count, and each newly arrived answer (for
/// the log and the metric).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// The latest answer per topic (stale answers included until replaced: a topic does
    /// not flap while being checked again).
    pub states: BTreeMap<String, TopicState>,
    /// Answers that arrived in this step.
    pub arrived: Vec<(String, TopicState)>,
    /// When the earliest missing topic is due to be checked again.
    pub recheck_in: Option<Duration>,
}

impl TopicChecks {
    /// The states of `topics`: fresh answers at once; for the others a check starts (or
    /// goes on), and this waits up to `options.wait` for them. A check still running then
    /// raises `signal` when it ends.
    pub async fn check(
        &mut self,
        topics: &BTreeSet<String>,
        lookup: &Arc<dyn TopicLookup>,
        options: &TopicCheckOptions,
        signal: &Arc<ChangeSignal>,
    ) -> Checked {
        self.answers.retain(|topic, _| topics.contains(topic));
        self.running.retain(|topic, running| {
            let keep = topics.contains(topic);
            if !keep {
                running.task.abort();
            }
            keep
        });
        let now = Instant::now();
        for topic in topics {
            let fresh = self
                .answers
                .get(topic)
                .is_some_and(|answer| now.duration_since(answer.at) < options.ttl);
            if fresh || self.running.contains_key(topic) {
                continue;
            }
            let abandoned = Arc::new(AtomicBool::new(false));
            let call = lookup.lookup(topic);
            let task = tokio::spawn({
                let abandoned = abandoned.clone();
                let signal = signal.clone();
                async move {
                    let state = call.await;
                    if abandoned.load(Ordering::SeqCst) {
                        signal.raise();
                    }
                    state
                }
            });
            self.running
                .insert(topic.clone(), Running { task, abandoned });
        }
        let arrived = self.collect(options.wait).await;
        let states = self
            .answers
            .iter()
            .map(|(topic, answer)| (topic.clone(), answer.state.clone()))
            .collect();
        let recheck_in = self
            .answers
            .values()
            .filter(|answer| answer.state == TopicState::Missing)
            .map(|answer| options.ttl.saturating_sub(answer.at.elapsed()))
            .min();
        Checked {
            states,
            arrived,
            recheck_in,
        }
    }

    /// Wait up to `wait` for the checks started now (take those started earlier only if
    /// they are done); keep the answers that came.
    async fn collect(&mut self, wait: Duration) -> Vec<(String, TopicState)> {
        let deadline = Instant::now() + wait;
        let mut arrived = Vec::new();
        let topics: Vec<String> = self.running.keys().cloned().collect();
        for topic in topics {
            let Some(running) = self.running.get_mut(&topic) else {
                continue;
            };
            // A check an earlier reconcile stopped waiting for is not waited for again:
            // an unreachable Pub/Sub must not slow every reconcile down.
            if running.abandoned.load(Ordering::SeqCst) && !running.task.is_finished() {
                continue;
            }
            let state = match tokio::time::timeout_at(deadline, &mut running.task).await {
                Ok(Ok(state)) => state,
                // The task panicked or was aborted: ask again next time.
                Ok(Err(_)) => {
                    self.running.remove(&topic);
                    continue;
                }
                Err(_) => {
                    running.abandoned.store(true, Ordering::SeqCst);
                    continue;
                }
            };
            self.running.remove(&topic);
            self.answers.insert(
                topic.clone(),
                Answer {
                    state: state.clone(),
                    at: Instant::now(),
                },
            );
            arrived.push((topic, state));
        }
        arrived
    }
}

impl Drop for TopicChecks {
    fn drop(&mut self) {
        for running in self.running.values() {
            running.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers from a table; counts the calls; `slow` topics answer after a delay.
    #[derive(Default)]
    struct FakeTopics {
        existing: Mutex<BTreeSet<String>>,
        slow: BTreeSet<String>,
        calls: Mutex<usize>,
    }

    impl TopicLookup for FakeTopics {
        fn lookup(&self, topic: &str) -> BoxFuture<'static, TopicState> {
            *self.calls.lock().unwrap() += 1;
            let exists = self.existing.lock().unwrap().contains(topic);
            let slow = self.slow.contains(topic);
            Box::pin(async move {
                if slow {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                if exists {
                    TopicState::Exists
                } else {
                    TopicState::Missing
                }
            })
        }
    }

    fn options(ttl_ms: u64, wait_ms: u64) -> TopicCheckOptions {
        TopicCheckOptions {
            emulator_host: None,
            ttl: Duration::from_millis(ttl_ms),
            wait: Duration::from_millis(wait_ms),
        }
    }

    fn topics(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[tokio::test]
    async fn answers_are_kept_for_the_ttl_and_a_missing_topic_is_checked_again_after_it() {
        let fake = Arc::new(FakeTopics::default());
        fake.existing.lock().unwrap().insert("a".into());
        let lookup: Arc<dyn TopicLookup> = fake.clone();
        let signal = Arc::new(ChangeSignal::default());
        let mut checks = TopicChecks::default();
        let options = options(200, 1000);
        let first = checks
            .check(&topics(&["a", "b"]), &lookup, &options, &signal)
            .await;
        assert_eq!(first.states["a"], TopicState::Exists);
        assert_eq!(first.states["b"], TopicState::Missing);
        assert!(first.recheck_in.is_some_and(|d| d <= options.ttl));
        let again = checks
            .check(&topics(&["a", "b"]), &lookup, &options, &signal)
            .await;
        assert_eq!(*fake.calls.lock().unwrap(), 2, "fresh answers are reused");
        assert!(again.arrived.is_empty());

        // The topic is created; once the TTL passed, the check sees it.
        fake.existing.lock().unwrap().insert("b".into());
        tokio::time::sleep(Duration::from_millis(250)).await;
        let later = checks
            .check(&topics(&["a", "b"]), &lookup, &options, &signal)
            .await;
        assert_eq!(later.states["b"], TopicState::Exists);
        assert_eq!(later.recheck_in, None);
    }

    #[tokio::test]
    async fn a_slow_answer_does_not_hold_the_reconcile_and_raises_the_signal_when_it_comes() {
        let fake = Arc::new(FakeTopics {
            slow: topics(&["slow"]),
            ..FakeTopics::default()
        });
        let lookup: Arc<dyn TopicLookup> = fake.clone();
        let signal = Arc::new(ChangeSignal::default());
        let mut checks = TopicChecks::default();
        let options = options(60_000, 20);
        let first = checks
            .check(&topics(&["slow"]), &lookup, &options, &signal)
            .await;
        assert!(first.states.is_empty(), "no answer yet: nothing blocks");
        tokio::time::timeout(Duration::from_secs(2), signal.raised())
            .await
            .expect("the late answer raises the signal");
        let second = checks
            .check(&topics(&["slow"]), &lookup, &options, &signal)
            .await;
        assert_eq!(second.states["slow"], TopicState::Missing);
        assert_eq!(*fake.calls.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn topics_no_tag_names_any_more_are_forgotten() {
        let lookup: Arc<dyn TopicLookup> = Arc::new(FakeTopics::default());
        let signal = Arc::new(ChangeSignal::default());
        let mut checks = TopicChecks::default();
        let options = options(60_000, 1000);
        checks
            .check(&topics(&["gone"]), &lookup, &options, &signal)
            .await;
        let after = checks.check(&topics(&[]), &lookup, &options, &signal).await;
        assert!(after.states.is_empty());
    }
}
