//! How the Pub/Sub publisher connects, batches, queues and retries.

use std::time::Duration;

use super::limits::{MAX_BATCH_BYTES, MAX_BATCH_MESSAGES};

/// The environment variable every Google client reads to use the emulator.
pub const EMULATOR_HOST_VAR: &str = "PUBSUB_EMULATOR_HOST";

/// Which Pub/Sub to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubSubTarget {
    /// `pubsub.googleapis.com` with Application Default Credentials (Workload Identity on
    /// GKE).
    Google,
    /// Another endpoint (e.g. a locational one, `https://europe-west1-pubsub.googleapis.com`)
    /// with Application Default Credentials.
    Endpoint { url: String },
    /// The emulator at `host:port`, plain HTTP/2, no credentials.
    Emulator { host_port: String },
}

impl PubSubTarget {
    /// The emulator when `PUBSUB_EMULATOR_HOST` is set (and not empty), else Google.
    pub fn from_env() -> Self {
        Self::from_emulator_host(std::env::var(EMULATOR_HOST_VAR).ok())
    }

    /// [`from_env`](Self::from_env) for a given value of `PUBSUB_EMULATOR_HOST`.
    pub fn from_emulator_host(value: Option<String>) -> Self {
        match value.map(|v| v.trim().to_owned()) {
            Some(host_port) if !host_port.is_empty() => PubSubTarget::Emulator { host_port },
            _ => PubSubTarget::Google,
        }
    }
}

/// Batching thresholds: a request holds at most `max_messages` and `max_bytes`; a batch
/// waits `max_delay` (the linger) for more. The durable publisher's lanes also let a busy
/// topic's batch wait up to `max_linger` for `target_messages`
/// (`publish/durable/linger.rs`); the in-memory publisher hands `max_delay` to the
/// client's batcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    pub max_messages: u32,
    pub max_bytes: u32,
    /// How long any batch waits for more records: what batching adds at light load.
    pub max_delay: Duration,
    /// The request size a busy topic's batch waits for.
    pub target_messages: u32,
    /// How long a busy topic's batch waits for `target_messages` at most.
    pub max_linger: Duration,
}

/// How long a busy topic's batch waits at most, by default: with the default target of
/// 150 a topic counts as busy from 600 messages a second (150 in 250 ms), the rate of
/// the benchmark's smallest topics at about half its saturation.
pub const DEFAULT_MAX_LINGER: Duration = Duration::from_millis(250);

/// The request size a busy topic waits for, by default: half again the 100 that issue 10
/// asks for on average, so requests cut at the next check still average above it.
pub const DEFAULT_TARGET_MESSAGES: u32 = 150;

/// How long a quiet topic's batch waits, by default: 5 ms, so that tokio's timer (which
/// rounds a sleep up to the next millisecond), the lane's read of the buffer, scheduling
/// and a stall of the host of a few milliseconds still keep a lone message within the
/// 10 ms issue 10 allows batching to add at light load. With 8 ms, and then 7 ms, one
/// message in a few hundred waited 10–12.5 ms; with 5 ms every one of 2,100 at 50 req/s
/// waited ≤ 10 ms, nearly all ≤ 7.5 ms (`docs/performance-log.md`, round 27). Busy
/// topics fill their requests by `target_messages`, not by this.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_messages: MAX_BATCH_MESSAGES,
            max_bytes: 1_000_000,
            max_delay: DEFAULT_LINGER,
            target_messages: DEFAULT_TARGET_MESSAGES,
            max_linger: DEFAULT_MAX_LINGER,
        }
    }
}

impl BatchSettings {
    /// Within Pub/Sub's request limits: 1 to 1,000 messages, 1 byte to
    /// [`MAX_BATCH_BYTES`], at most a second of delay; a target of 1 to `max_messages`
    /// and a max linger of `max_delay` to a second.
    pub fn clamped(self) -> Self {
        let max_messages = self.max_messages.clamp(1, MAX_BATCH_MESSAGES);
        let max_delay = self.max_delay.min(MAX_LINGER);
        BatchSettings {
            max_messages,
            max_bytes: self.max_bytes.clamp(1, MAX_BATCH_BYTES),
            max_delay,
            target_messages: self.target_messages.clamp(1, max_messages),
            max_linger: self.max_linger.clamp(max_delay, MAX_LINGER),
        }
    }
}

/// The longest any batch waits.
pub const MAX_LINGER: Duration = Duration::from_secs(1);

/// Everything [`PubSubPublisher`](super::PubSubPublisher) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubConfig {
    pub target: PubSubTarget,
    /// Unpublished messages held at most; beyond it `enqueue` answers `Full`.
    pub queue_capacity: usize,
    pub batching: BatchSettings,
    /// Time budget of one publish attempt, including the client's own quick retries of
    /// transient errors; then the message goes back to our backoff.
    pub attempt_timeout: Duration,
    /// First delay before re-publishing a failed message; doubles per failure.
    pub initial_backoff: Duration,
    /// Longest delay between attempts.
    pub max_backoff: Duration,
    /// How long `shutdown` keeps publishing pending messages.
    pub shutdown_timeout: Duration,
    /// New ordering keys one client publisher may see before the topic gets a fresh one
    /// (the client keeps a task per key forever; this bounds that memory).
    pub ordering_keys_per_client: usize,
}

impl Default for PubSubConfig {
    fn default() -> Self {
        PubSubConfig {
            target: PubSubTarget::Google,
            queue_capacity: 100_000,
            batching: BatchSettings::default(),
            attempt_timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(20),
            ordering_keys_per_client: 10_000,
        }
    }
}

impl PubSubConfig {
    /// Defaults, with the target from `PUBSUB_EMULATOR_HOST`.
    pub fn from_env() -> Self {
        PubSubConfig {
            target: PubSubTarget::from_env(),
            ..Default::default()
        }
    }

    /// Defaults, aimed at the emulator at `host:port`.
    pub fn emulator(host_port: impl Into<String>) -> Self {
        PubSubConfig {
            target: PubSubTarget::Emulator {
                host_port: host_port.into(),
            },
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_host_selects_the_emulator_and_absence_selects_google() {
        assert_eq!(
            PubSubTarget::from_emulator_host(Some("127.0.0.1:8085".into())),
            PubSubTarget::Emulator {
                host_port: "127.0.0.1:8085".into()
            }
        );
        assert_eq!(PubSubTarget::from_emulator_host(None), PubSubTarget::Google);
        assert_eq!(
            PubSubTarget::from_emulator_host(Some(" ".into())),
            PubSubTarget::Google
        );
    }

    #[test]
    fn batch_settings_are_clamped_to_pubsub_request_limits() {
        let wild = BatchSettings {
            max_messages: 50_000,
            max_bytes: u32::MAX,
            max_delay: Duration::from_secs(60),
            target_messages: 5_000,
            max_linger: Duration::from_secs(90),
        }
        .clamped();
        assert_eq!(wild.max_messages, MAX_BATCH_MESSAGES);
        assert_eq!(wild.max_bytes, MAX_BATCH_BYTES);
        assert_eq!(wild.max_delay, Duration::from_secs(1));
        assert_eq!(wild.target_messages, MAX_BATCH_MESSAGES);
        assert_eq!(wild.max_linger, Duration::from_secs(1));
        let zero = BatchSettings {
            max_messages: 0,
            max_bytes: 0,
            max_delay: Duration::from_millis(10),
            target_messages: 0,
            max_linger: Duration::ZERO,
        }
        .clamped();
        assert_eq!((zero.max_messages, zero.max_bytes), (1, 1));
        assert_eq!(zero.target_messages, 1);
        assert_eq!(
            zero.max_linger,
            Duration::from_millis(10),
            "never below the linger"
        );
        assert_eq!(BatchSettings::default().clamped(), BatchSettings::default());
    }
}
