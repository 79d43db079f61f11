//! Google's Pub/Sub emulator as a real process, with the admin calls tests need.
//!
//! [`PubSubEmulator::start`] launches the emulator (Java) on a free loopback port in its own
//! temporary working directory, waits until it answers HTTP, and kills its whole process
//! group on drop. Admin calls go through the emulator's REST/JSON API: create a topic,
//! create a subscription (optionally with message ordering), and pull-and-ack messages.
//! The emulator's output goes to a log file; [`PubSubEmulator::log`] returns it so a
//! failing test can print it.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::json;

use crate::ports::free_port;

/// Where Debian's `google-cloud-cli-pubsub-emulator` package installs the emulator.
pub const EMULATOR_BINARY: &str =
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator";

/// How long [`PubSubEmulator::start`] waits for the emulator to answer (a cold JVM on a
/// busy two-core machine takes a few seconds).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// Why the emulator could not be started or an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// No free port, no temp dir, or the binary could not be spawned.
    #[error("cannot start the Pub/Sub emulator ({EMULATOR_BINARY}): {0}")]
    Spawn(#[from] std::io::Error),
    /// The process exited before it answered.
    #[error("the Pub/Sub emulator exited with {status} before answering; log:\n{log}")]
    Exited { status: ExitStatus, log: String },
    /// The process did not answer within the startup timeout.
    #[error("the Pub/Sub emulator did not answer within {after:?}; log:\n{log}")]
    Timeout { after: Duration, log: String },
    /// The HTTP request itself failed.
    #[error("request to the Pub/Sub emulator failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The emulator answered with an error status.
    #[error("the Pub/Sub emulator answered {status} to {what}: {body}")]
    Api {
        what: String,
        status: u16,
        body: String,
    },
}

/// Options for [`PubSubEmulator::create_subscription`].
#[derive(Debug, Clone, Default)]
pub struct SubscriptionOptions {
    /// Deliver messages with the same ordering key in publish order.
    pub ordering: bool,
    /// Ack deadline in seconds (the emulator defaults to 10).
    pub ack_deadline_seconds: Option<u32>,
}

/// A message for [`PubSubEmulator::publish`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OutgoingMessage<'a> {
    /// The payload.
    pub data: &'a [u8],
    /// The attributes.
    pub attributes: &'a [(&'a str, &'a str)],
    /// The ordering key, if any.
    pub ordering_key: Option<&'a str>,
}

/// A message read back through a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message payload, base64-decoded.
    pub data: Vec<u8>,
    /// The message attributes.
    pub attributes: BTreeMap<String, String>,
    /// The ordering key, `None` when the message had none.
    pub ordering_key: Option<String>,
    /// The id the emulator assigned.
    pub message_id: String,
}

impl ReceivedMessage {
    /// The payload as UTF-8 text (lossy), for assertions.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The payload parsed as JSON, for assertions on message bodies.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.data)
    }
}

/// A running emulator; killed (with its process group) on drop.
pub struct PubSubEmulator {
    child: Child,
    port: u16,
    log_path: PathBuf,
    startup_time: Duration,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl PubSubEmulator {
    /// Start an emulator on a free loopback port and wait until it answers.
    pub async fn start() -> Result<Self, EmulatorError> {
        Self::start_on_port(free_port()?).await
    }

    /// Start an emulator on `port` (e.g. one reserved with [`crate::free_port`] and handed to a
    /// publisher before the emulator existed) and wait until it answers.
    pub async fn start_on_port(port: u16) -> Result<Self, EmulatorError> {
        Self::start_listening(Ipv4Addr::LOCALHOST, port).await
    }

    /// Start an emulator on `port` of every address, so that pods of a test node reach
    /// it at the node's bridge address (it must also answer on loopback: its REST front
    /// calls its own gRPC server there, so binding the bridge address alone fails).
    /// Clients in the test still use 127.0.0.1.
    pub async fn start_on_all_addresses(port: u16) -> Result<Self, EmulatorError> {
        Self::start_listening(Ipv4Addr::UNSPECIFIED, port).await
    }

    async fn start_listening(address: Ipv4Addr, port: u16) -> Result<Self, EmulatorError> {
        let dir = tempfile::Builder::new()
            .prefix("hermes-pubsub-emulator-")
            .tempdir()?;
        let log_path = dir.path().join("emulator.log");
        let log = File::create(&log_path)?;
        let began = Instant::now();
        let child = spawn_emulator(address, port, dir.path(), log)?;
        let mut emulator = PubSubEmulator {
            child,
            port,
            log_path,
            startup_time: Duration::ZERO,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            _dir: dir,
        };
        emulator.wait_until_answering(began).await?;
        emulator.startup_time = began.elapsed();
        eprintln!(
            "pubsub emulator on {} answered after {:.2?} (pid {})",
            emulator.host_port(),
            emulator.startup_time,
            emulator.child.id()
        );
        tracing::info!(port, startup = ?emulator.startup_time, "pubsub emulator started");
        Ok(emulator)
    }

    async fn wait_until_answering(&mut self, began: Instant) -> Result<(), EmulatorError> {
        let mut poll = tokio::time::interval(Duration::from_millis(100));
        loop {
            poll.tick().await;
            if let Some(status) = self.child.try_wait()? {
                return Err(EmulatorError::Exited {
                    status,
                    log: self.log(),
                });
            }
            let probe = self
                .http
                .get(self.endpoint())
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if began.elapsed() > STARTUP_TIMEOUT {
                return Err(EmulatorError::Timeout {
                    after: STARTUP_TIMEOUT,
                    log: self.log(),
                });
            }
        }
    }

    /// The port the emulator listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, the endpoint for clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.host_port())
    }

    /// `127.0.0.1:PORT`, the value for `PUBSUB_EMULATOR_HOST`.
    /// Freeze (`SIGSTOP`) or resume (`SIGCONT`) the emulator's process group, for fault
    /// tests: a frozen emulator accepts connections but answers nothing.
    pub fn signal(&self, signal: &str) -> std::io::Result<()> {
        let group = format!("-{}", self.child.id());
        let status = Command::new("kill")
            .args([&format!("-{signal}"), "--", &group])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "kill -{signal} {group}: {status}"
            )))
        }
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How long the emulator took to answer after being spawned.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// Everything the emulator printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// Create a topic; `topic` is the full name, `projects/P/topics/T`.
    pub async fn create_topic(&self, topic: &str) -> Result<(), EmulatorError> {
        self.call(reqwest::Method::PUT, topic, json!({}), "create topic")
            .await
            .map(drop)
    }

    /// Create a subscription (`projects/P/subscriptions/S`) on a topic (full name).
    pub async fn create_subscription(
        &self,
        subscription: &str,
        topic: &str,
        options: SubscriptionOptions,
    ) -> Result<(), EmulatorError> {
        let mut body = json!({ "topic": topic, "enableMessageOrdering": options.ordering });
        if let Some(seconds) = options.ack_deadline_seconds {
            body["ackDeadlineSeconds"] = json!(seconds);
        }
        self.call(
            reqwest::Method::PUT,
            subscription,
            body,
            "create subscription",
        )
        .await
        .map(drop)
    }

    /// Create each topic `projects/{project}/topics/{name}` with one subscription
    /// `projects/{project}/subscriptions/{name}-{suffix}` (default options), so a test can
    /// read back everything published to it.
    pub async fn create_topics_with_subscriptions(
        &self,
        project: &str,
        names: &[&str],
        suffix: &str,
    ) -> Result<(), EmulatorError> {
        for name in names {
            let topic = format!("projects/{project}/topics/{name}");
            self.create_topic(&topic).await?;
            let subscription = format!("projects/{project}/subscriptions/{name}-{suffix}");
            self.create_subscription(&subscription, &topic, SubscriptionOptions::default())
                .await?;
        }
        Ok(())
    }

    /// Publish `messages` to `topic` (full name) in one request; their message ids, in
    /// order.
    pub async fn publish(
        &self,
        topic: &str,
        messages: &[OutgoingMessage<'_>],
    ) -> Result<Vec<String>, EmulatorError> {
        let messages: Vec<serde_json::Value> = messages
            .iter()
            .map(|message| {
                let mut wire = json!({
                    "data": BASE64.encode(message.data),
                    "attributes": message.attributes.iter().copied().collect::<BTreeMap<_, _>>(),
                });
                if let Some(key) = message.ordering_key {
                    wire["orderingKey"] = json!(key);
                }
                wire
            })
            .collect();
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("{topic}:publish"),
                json!({ "messages": messages }),
                "publish",
            )
            .await?;
        let ids: Option<Vec<String>> = answer["messageIds"].as_array().map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_string))
                .collect()
        });
        match ids {
            Some(ids) if ids.len() == messages.len() => Ok(ids),
            _ => Err(EmulatorError::Api {
                what: format!("publish {topic}"),
                status: 200,
                body: format!("unexpected publish answer: {answer}"),
            }),
        }
    }

    /// One pull of at most `max` messages that returns at once, acking what it got.
    pub async fn pull_once(
        &self,
        subscription: &str,
        max: usize,
    ) -> Result<Vec<ReceivedMessage>, EmulatorError> {
        let body = json!({ "maxMessages": max, "returnImmediately": true });
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("{subscription}:pull"),
                body,
                "pull",
            )
            .await?;
        let pulled: PullResponse =
            serde_json::from_value(answer).map_err(|e| EmulatorError::Api {
                what: "pull".into(),
                status: 200,
                body: format!("unexpected pull response: {e}"),
            })?;
        if pulled.received_messages.is_empty() {
            return Ok(Vec::new());
        }
        let ack_ids: Vec<&str> = pulled
            .received_messages
            .iter()
            .map(|r| r.ack_id.as_str())
            .collect();
        self.call(
            reqwest::Method::POST,
            &format!("{subscription}:acknowledge"),
            json!({ "ackIds": ack_ids }),
            "acknowledge",
        )
        .await?;
        pulled
            .received_messages
            .into_iter()
            .map(|r| r.message.decode())
            .collect()
    }

    /// Pull (and ack) until `n` messages arrived or `deadline` passed; returns what arrived,
    /// in delivery order. Asserting on the count is the caller's job.
    pub async fn pull(
        &self,
        subscription: &str,
        n: usize,
        deadline: Duration,
    ) -> Result<Vec<ReceivedMessage>, EmulatorError> {
        let until = Instant::now() + deadline;
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < until {
            poll.tick().await;
            got.extend(
                self.pull_once(subscription, (n - got.len()).min(1000))
                    .await?,
            );
        }
        Ok(got)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        resource: &str,
        body: serde_json::Value,
        what: &str,
    ) -> Result<serde_json::Value, EmulatorError> {
        let url = format!("{}/v1/{resource}", self.endpoint());
        let response = self.http.request(method, url).json(&body).send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(EmulatorError::Api {
                what: format!("{what} {resource}"),
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }
}

impl Drop for PubSubEmulator {
    fn drop(&mut self) {
        // The launcher script execs java, but kill the whole group in case it forked.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_emulator(
    address: Ipv4Addr,
    port: u16,
    dir: &std::path::Path,
    log: File,
) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    Command::new(EMULATOR_BINARY)
        .arg(format!("--host={address}"))
        .arg(format!("--port={port}"))
        .current_dir(dir)
        // A small heap and the quick JIT tier: tests start many short-lived emulators.
        .env(
            "JAVA_OPTS",
            "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullResponse {
    #[serde(default)]
    received_messages: Vec<PulledMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PulledMessage {
    ack_id: String,
    message: WireMessage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage {
    #[serde(default)]
    data: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    ordering_key: String,
    #[serde(default)]
    message_id: String,
}

impl WireMessage {
    fn decode(self) -> Result<ReceivedMessage, EmulatorError> {
        let data = BASE64.decode(&self.data).map_err(|e| EmulatorError::Api {
            what: "pull".into(),
            status: 200,
            body: format!("message data is not base64: {e}"),
        })?;
        Ok(ReceivedMessage {
            data,
            attributes: self.attributes,
            ordering_key: (!self.ordering_key.is_empty()).then_some(self.ordering_key),
            message_id: self.message_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emulator_round_trips_a_message_with_attributes_and_ordering_key() {
        let emulator = PubSubEmulator::start().await.expect("emulator starts");
        let topic = "projects/hermes-test/topics/round-trip";
        let subscription = "projects/hermes-test/subscriptions/round-trip-sub";
        emulator.create_topic(topic).await.unwrap();
        emulator
            .create_subscription(
                subscription,
                topic,
                SubscriptionOptions {
                    ordering: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();

        let publish = json!({ "messages": [{
            "data": BASE64.encode("hello"),
            "attributes": { "sku": "BOWL-10" },
            "orderingKey": "client-1",
        }]});
        emulator
            .call(
                reqwest::Method::POST,
                &format!("{topic}:publish"),
                publish,
                "publish",
            )
            .await
            .unwrap();

        let got = emulator
            .pull(subscription, 1, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "log:\n{}", emulator.log());
        assert_eq!(got[0].text(), "hello");
        assert_eq!(
            got[0].attributes.get("sku").map(String::as_str),
            Some("BOWL-10")
        );
        assert_eq!(got[0].ordering_key.as_deref(), Some("client-1"));
        // Acked: nothing comes back.
        assert!(
            emulator
                .pull_once(subscription, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn emulator_process_is_gone_after_drop() {
        let emulator = PubSubEmulator::start().await.expect("emulator starts");
        let pid = emulator.child.id();
        drop(emulator);
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still exists"
        );
    }

    #[tokio::test]
    async fn creating_a_subscription_on_a_missing_topic_is_an_api_error() {
        let emulator = PubSubEmulator::start().await.expect("emulator starts");
        let err = emulator
            .create_subscription(
                "projects/hermes-test/subscriptions/orphan",
                "projects/hermes-test/topics/missing",
                SubscriptionOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, EmulatorError::Api { status: 404, .. }),
            "{err}"
        );
    }
}
