//! Config publication outcomes, published to an optional Pub/Sub topic so downstream
//! automation can react and retry. One JSON message per new config written, and per
//! distinct failure:
//!
//! ```json
//! {"scope": "shop", "configHash": "sha256:…", "outcome": "success" | "failure",
//!  "reasons": ["Tag/promo: spec.firingTriggers[0]: trigger \"x\" not found"],
//!  "objects": [{"kind": "Tag", "name": "promo", "generation": 2, "accepted": false}],
//!  "time": "2026-12-01T10:00:00Z"}
//! ```
//!
//! with attributes `outcome` and `scope` (the namespace; the field keeps its published
//! name). `success` means the config was written and every object of the namespace is in
//! it.

use std::time::Duration;

use futures::future::BoxFuture;
use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;
use hermes_compiler::compile::{CompileOutput, Kind};
use serde::{Deserialize, Serialize};

/// Why outcomes cannot be sent, or one was not.
#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    /// `--publication-topic` is not a full topic name.
    #[error("topic {0:?} is not of the form projects/PROJECT/topics/TOPIC")]
    InvalidTopic(String),
    /// The Pub/Sub publisher could not be built (credentials, endpoint).
    #[error("the Pub/Sub publisher for {topic} cannot be built: {source}")]
    BuildPublisher {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: google_cloud_gax::client_builder::Error,
    },
    /// Pub/Sub refused or failed the message.
    #[error("publishing failed: {0}")]
    Publish(#[source] google_cloud_pubsub::error::PublishError),
    /// No answer within [`PUBLISH_TIMEOUT`].
    #[error("not published within {0:?}")]
    TimedOut(Duration),
}

/// How long one outcome message may take to publish before it is given up (logged).
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// `success` or `failure`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Written, and every object accepted.
    Success,
    /// Not written, or some objects left out.
    Failure,
}

impl Outcome {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One object in an outcome message.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublishedObject {
    /// `Tag`, `Trigger` or `LookupTable`.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its generation.
    pub generation: Option<i64>,
    /// Whether it is in the config.
    pub accepted: bool,
}

/// The message body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublicationMessage {
    /// The namespace (named `scope` on the wire).
    pub scope: String,
    /// The compiled config's hash.
    pub config_hash: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Diagnostic lines and write errors; empty on success.
    pub reasons: Vec<String>,
    /// Every object of the namespace.
    pub objects: Vec<PublishedObject>,
    /// When the outcome was decided (RFC 3339).
    pub time: String,
}

/// Build the message for a write attempt of `output`; `write_error` is why the config
/// was not written, if it was not.
pub fn message(
    namespace: &str,
    output: &CompileOutput,
    write_error: Option<&str>,
    time: &str,
) -> PublicationMessage {
    let mut reasons: Vec<String> = output.diagnostics.iter().map(|d| d.to_string()).collect();
    if let Some(error) = write_error {
        reasons.push(error.to_string());
    }
    let objects: Vec<PublishedObject> = output
        .objects
        .iter()
        .map(|o| PublishedObject {
            kind: o.object.kind,
            name: o.object.name.clone(),
            generation: o.generation,
            accepted: o.accepted,
        })
        .collect();
    let outcome = if reasons.is_empty() && objects.iter().all(|o| o.accepted) {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    PublicationMessage {
        scope: namespace.to_string(),
        config_hash: output.config.hash.clone(),
        outcome,
        reasons,
        objects,
        time: time.to_string(),
    }
}

/// Remembers the last outcome published for a namespace, so that a failure is published once,
/// not on every retry.
#[derive(Default, Debug)]
pub struct LastPublished {
    last: Option<(String, Outcome, Vec<String>)>,
}

impl LastPublished {
    /// Whether to publish `message`: always after writing a new config (`wrote`),
    /// otherwise only for a failure not published yet.
    pub fn should_publish(&mut self, message: &PublicationMessage, wrote: bool) -> bool {
        let key = (
            message.config_hash.clone(),
            message.outcome,
            message.reasons.clone(),
        );
        let publish =
            wrote || (message.outcome == Outcome::Failure && self.last.as_ref() != Some(&key));
        if publish {
            self.last = Some(key);
        }
        publish
    }
}

/// Where outcome messages go.
pub trait OutcomeSink: Send + Sync {
    /// Publish one message (fire and forget for the caller: failures are the sink's to log).
    fn publish(
        &self,
        message: PublicationMessage,
    ) -> BoxFuture<'static, Result<(), PublicationError>>;
}

/// Where outcomes are published.
#[derive(Clone, Debug)]
pub struct PublicationOptions {
    /// The topic, `projects/P/topics/T`.
    pub topic: String,
    /// `HOST:PORT` of a Pub/Sub emulator (plain HTTP, no credentials), as
    /// `PUBSUB_EMULATOR_HOST` gives it; `None`: Google Cloud with default credentials.
    pub emulator_host: Option<String>,
}

/// Publishes outcomes to a Pub/Sub topic.
pub struct PubSubOutcomes {
    publisher: Publisher,
}

impl PubSubOutcomes {
    /// Connect to the topic.
    pub async fn connect(options: &PublicationOptions) -> Result<Self, PublicationError> {
        let topic = options.topic.as_str();
        if !is_topic_name(topic) {
            return Err(PublicationError::InvalidTopic(topic.to_string()));
        }
        let mut builder = Publisher::builder(topic).set_delay_threshold(Duration::ZERO);
        if let Some(host) = options.emulator_host.as_deref().filter(|h| !h.is_empty()) {
            builder = builder
                .with_endpoint(format!("http://{host}"))
                .with_credentials(
                    google_cloud_auth::credentials::anonymous::Builder::new().build(),
                );
        }
        let publisher =
            builder
                .build()
                .await
                .map_err(|source| PublicationError::BuildPublisher {
                    topic: topic.to_string(),
                    source,
                })?;
        Ok(PubSubOutcomes { publisher })
    }
}

impl OutcomeSink for PubSubOutcomes {
    fn publish(
        &self,
        message: PublicationMessage,
    ) -> BoxFuture<'static, Result<(), PublicationError>> {
        let body = serde_json::to_vec(&message).unwrap_or_default();
        let pending = self
            .publisher
            .publish(Message::new().set_data(body).set_attributes([
                ("outcome", message.outcome.as_str()),
                ("scope", message.scope.as_str()),
            ]));
        Box::pin(async move {
            match tokio::time::timeout(PUBLISH_TIMEOUT, pending).await {
                Ok(Ok(_id)) => Ok(()),
                Ok(Err(error)) => Err(PublicationError::Publish(error)),
                Err(_) => Err(PublicationError::TimedOut(PUBLISH_TIMEOUT)),
            }
        })
    }
}

fn is_topic_name(topic: &str) -> bool {
    let parts: Vec<&str> = topic.split('/').collect();
    matches!(parts.as_slice(), ["projects", p, "topics", t] if !p.is_empty() && !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_compiler::compile::{Diagnostic, ObjectKey, ObjectOutcome};
    use hermes_compiler::config::GatewayConfig;

    fn output(accepted: bool) -> CompileOutput {
        let object = ObjectKey {
            kind: Kind::Tag,
            name: "promo".into(),
        };
        CompileOutput {
            config: GatewayConfig::empty("shop"),
            diagnostics: if accepted {
                Vec::new()
            } else {
                vec![Diagnostic {
                    object: object.clone(),
                    field: "spec.firingTriggers[0]".into(),
                    reason: "TriggerNotFound".into(),
                    message: "trigger \"x\" not found".into(),
                }]
            },
            objects: vec![ObjectOutcome {
                object,
                generation: Some(2),
                accepted,
            }],
        }
    }

    #[test]
    fn written_config_with_every_object_accepted_is_a_success() {
        let message = message("shop", &output(true), None, "2026-12-01T10:00:00Z");
        assert_eq!(message.outcome, Outcome::Success);
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["outcome"], "success");
        assert_eq!(json["configHash"], GatewayConfig::empty("shop").hash);
        assert_eq!(json["objects"][0]["kind"], "Tag");
        assert_eq!(json["objects"][0]["accepted"], true);
    }

    #[test]
    fn rejected_object_or_write_error_is_a_failure_with_reasons() {
        let rejected = message("shop", &output(false), None, "t");
        assert_eq!(rejected.outcome, Outcome::Failure);
        assert_eq!(
            rejected.reasons,
            ["Tag/promo: spec.firingTriggers[0]: trigger \"x\" not found"]
        );
        let too_large = message("shop", &output(true), Some("config too large"), "t");
        assert_eq!(too_large.outcome, Outcome::Failure);
        assert_eq!(too_large.reasons, ["config too large"]);
    }

    #[test]
    fn a_failure_is_published_once_but_every_write_is_published() {
        let mut last = LastPublished::default();
        let failure = message("shop", &output(true), Some("config too large"), "t");
        assert!(last.should_publish(&failure, false));
        assert!(!last.should_publish(&failure, false));
        let success = message("shop", &output(true), None, "t");
        assert!(
            !last.should_publish(&success, false),
            "nothing written, no failure"
        );
        assert!(last.should_publish(&success, true));
        assert!(
            last.should_publish(&failure, false),
            "failing again after a success"
        );
    }

    #[test]
    fn topic_names_are_checked() {
        assert!(is_topic_name("projects/p/topics/t"));
        assert!(!is_topic_name("projects/p/topics/"));
        assert!(!is_topic_name("topics/t"));
    }
}
