//! The gateway's command line (`hermes-gateway`, and `hermes gateway`): flags, logging,
//! config source, publisher, server, graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hermes_runtime::LogFormat;
use prometheus_client::registry::Registry;

use crate::collect::{Cidr, Limits};
use crate::config_source::{self, ConfigSink, ConfigStore};
use crate::metrics::Metrics;
use crate::preview::{PreviewRegistry, PreviewSettings};
use crate::publish::{
    self, BatchSettings, CountingPublisher, DeadLetterTopicName, DurableConfig, DurablePublisher,
    FullPolicy, PubSubPublisher, PublishMetrics, Publisher, SinkKind,
};
use crate::server::{self, AppState, Draining, app, drain_after};
use crate::settings::{DEFAULT_MAX_BODY_BYTES, GatewaySettings, MpStrictness};
use hermes_buffer::{Buffer, BufferConfig, BufferMetrics, FsyncPolicy};

/// Flags of the gateway.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// Address to serve hits, health and metrics on.
    #[arg(long, env = "HERMES_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Standalone: compile the manifests in these files or folders (reloaded on change).
    #[arg(long, value_name = "PATH", conflicts_with = "cluster")]
    pub manifests: Vec<PathBuf>,
    /// Cluster: serve the config the operator writes, and report it through a Lease.
    #[arg(long)]
    pub cluster: bool,
    /// Cluster: the namespace holding the config and this replica's Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Cluster: the ConfigMap the operator writes.
    #[arg(
        long,
        env = "HERMES_CONFIG_MAP",
        default_value = "hermes-gateway-config"
    )]
    pub config_map: String,
    /// Cluster: this replica's identity (its pod name).
    #[arg(long, env = "POD_NAME", default_value = "gateway-0")]
    pub replica_id: String,
    /// Measurement Protocol secrets, `MEASUREMENT_ID=SECRET` (repeat, or comma-separate).
    #[arg(long = "mp-secret", env = "HERMES_MP_SECRETS", value_delimiter = ',')]
    pub mp_secrets: Vec<String>,
    /// Token that enables debug mode for requests carrying it in `X-Hermes-Debug`.
    #[arg(long, env = "HERMES_DEBUG_TOKEN")]
    pub debug_token: Option<String>,
    /// Proxies (CIDR) whose X-Forwarded-For is trusted.
    #[arg(long = "trusted-proxy", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Browser origins allowed to send hits (default: any).
    #[arg(long = "allowed-origin", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Largest accepted request body, bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most events in one /g/collect request.
    #[arg(long, default_value_t = Limits::default().max_events)]
    pub max_events: usize,
    /// Most parameters per event.
    #[arg(long, default_value_t = Limits::default().max_params_per_event)]
    pub max_params: usize,
    /// Refuse (400, with the validation messages) Measurement Protocol requests that
    /// break a validation rule, for every stream. Default: accept them as Google does,
    /// firing the valid events and dropping (counting, logging) the invalid parts.
    #[arg(long, env = "HERMES_MP_STRICT")]
    pub mp_strict: bool,
    /// Like `--mp-strict`, for this measurement id (or Firebase app id) only (repeat).
    #[arg(long = "mp-strict-id", value_name = "ID", value_delimiter = ',')]
    pub mp_strict_ids: Vec<String>,
    /// Give tags the client IP truncated as GA4 does (IPv4 /24, IPv6 /48).
    #[arg(long, env = "HERMES_TRUNCATE_IP")]
    pub truncate_ip: bool,
    /// Put client addresses in request logs (debug level). Off: logs carry no client IPs.
    #[arg(long)]
    pub log_client_ids: bool,
    /// Longest time a client may take to send its request head (line and headers).
    #[arg(long, value_parser = parse_seconds, default_value = "10")]
    pub header_read_timeout_secs: Duration,
    /// Longest time a client may take to send its request body (then 408).
    #[arg(long, value_parser = parse_seconds, default_value = "10")]
    pub body_read_timeout_secs: Duration,
    /// Where messages go: `pubsub` (Pub/Sub, or the emulator named by
    /// `PUBSUB_EMULATOR_HOST`), or `counting` (counted in
    /// `hermes_publish_counted_messages_total` and acknowledged, nothing sent: for
    /// benchmarks of the gateway alone).
    #[arg(long, env = "HERMES_PUBLISHER", value_enum, default_value_t = SinkKind::Pubsub)]
    pub publisher: SinkKind,
    /// What keeps accepted messages until they are published: `disk` (the durable
    /// buffer in `--buffer-dir`: a 2xx means the hit survives a crash) or `memory` (a
    /// queue in the process: accepted hits are lost if it crashes or is killed; for
    /// measuring what the buffer costs, or where losing them is acceptable).
    #[arg(long, env = "HERMES_BUFFER", value_enum, default_value_t = BufferKind::Disk)]
    pub buffer: BufferKind,
    /// Where accepted messages are kept until Pub/Sub acknowledges them (one directory
    /// per topic). Give it a volume: what is in it survives restarts.
    #[arg(long, env = "HERMES_BUFFER_DIR", default_value = DEFAULT_BUFFER_DIR)]
    pub buffer_dir: PathBuf,
    /// Bytes of buffer each topic may hold; beyond it `--buffer-full-policy` applies.
    #[arg(long, env = "HERMES_BUFFER_MAX_BYTES_PER_TOPIC", default_value_t = 256 * 1024 * 1024)]
    pub buffer_max_bytes_per_topic: u64,
    /// When buffered hits are forced to disk: `never` (the kernel decides), `interval`
    /// (every second, default), `always` (before each answer).
    #[arg(long, env = "HERMES_BUFFER_FSYNC", value_enum, default_value_t = FsyncArg::Interval)]
    pub buffer_fsync: FsyncArg,
    /// A hit whose topic's buffer is full: `reject` (503 + Retry-After) or `drop` (2xx,
    /// counted in `hermes_publish_buffer_full_dropped_total`).
    #[arg(long, env = "HERMES_BUFFER_FULL_POLICY", value_enum, default_value_t = FullPolicy::Reject)]
    pub buffer_full_policy: FullPolicy,
    /// Where messages of failing topics are kept (JSON lines, one file per topic);
    /// default `<buffer-dir>/dead-letter`.
    #[arg(long, env = "HERMES_DEAD_LETTER_DIR")]
    pub dead_letter_dir: Option<PathBuf>,
    /// Publish dead letters to this topic first (`projects/P/topics/T`, or a bare name in
    /// the project of each message's own topic), with the attributes
    /// `hermes_dead_letter_reason` and `hermes_original_topic`; what it does not take goes
    /// to the dead-letter files.
    #[arg(long, env = "HERMES_DEAD_LETTER_TOPIC", value_name = "TOPIC", value_parser = DeadLetterTopicName::parse)]
    pub dead_letter_topic: Option<DeadLetterTopicName>,
    /// How often a failing (missing, forbidden) topic is tried again, seconds.
    #[arg(long, default_value_t = 30)]
    pub dead_letter_probe_seconds: u64,
    /// How long a topic's batch waits for more messages before its publish request is
    /// sent, milliseconds: what batching adds at light load (1–1000).
    #[arg(long, env = "HERMES_PUBLISH_LINGER_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=1000),
          default_value_t = duration_ms(BatchSettings::default().max_delay))]
    pub publish_linger_ms: u64,
    /// Messages a busy topic's publish request waits for (1–1000): a topic that gets
    /// this many within `--publish-max-linger-ms` waits for them; a quieter one is sent
    /// after `--publish-linger-ms`. Durable buffer only (`--buffer memory` leaves
    /// batching to the client, with `--publish-linger-ms` as its delay).
    #[arg(long, env = "HERMES_PUBLISH_TARGET_MESSAGES", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000),
          default_value_t = BatchSettings::default().target_messages)]
    pub publish_target_messages: u32,
    /// How long a busy topic's batch waits for `--publish-target-messages` at most,
    /// milliseconds (`--publish-linger-ms` to 1000).
    #[arg(long, env = "HERMES_PUBLISH_MAX_LINGER_MS", value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=1000),
          default_value_t = duration_ms(BatchSettings::default().max_linger))]
    pub publish_max_linger_ms: u64,
    /// After SIGTERM: seconds to keep serving with `/readyz` answering 503 before the
    /// listener closes, so load balancers stop routing here first (their view of the
    /// pod's endpoints lags the signal by seconds). 0: close at once.
    #[arg(long, env = "HERMES_SHUTDOWN_DELAY", value_name = "SECONDS", value_parser = parse_seconds, default_value = "5")]
    pub shutdown_delay: Duration,
    /// After the listener closed and requests in flight finished (at most 10 s): seconds
    /// to publish pending messages before leaving the rest in the buffer for the next
    /// start.
    #[arg(long, env = "HERMES_SHUTDOWN_FLUSH_TIMEOUT", value_name = "SECONDS", value_parser = parse_seconds, default_value = "20")]
    pub shutdown_flush_timeout: Duration,
    /// Live preview (`/preview`, needs --debug-token): how long a session lives, seconds.
    #[arg(long, default_value_t = PreviewSettings::default().session_ttl.as_secs())]
    pub preview_session_ttl: u64,
    /// Live preview: hits kept per session (older ones are dropped).
    #[arg(long, default_value_t = PreviewSettings::default().hits_per_session)]
    pub preview_hits: usize,
    /// Live preview: sessions open at once (starting one more ends the oldest).
    #[arg(long, default_value_t = PreviewSettings::default().max_sessions)]
    pub preview_sessions: usize,
    /// Log format: `text` or `json` (containers).
    #[arg(long, env = "HERMES_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The default buffer directory: a volume in the container images and the chart.
pub const DEFAULT_BUFFER_DIR: &str = "/var/lib/hermes/buffer";

/// `--buffer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BufferKind {
    /// The durable buffer on disk (at-least-once across crashes and restarts).
    Disk,
    /// An in-process queue: at-least-once only while the process lives.
    Memory,
}

/// `--buffer-fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncArg {
    Never,
    Interval,
    Always,
}

/// A default duration as a whole number of milliseconds (for flag defaults).
fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl GatewayArgs {
    /// Pub/Sub as the environment names it (endpoint, emulator, credentials), batching
    /// as the `--publish-…` flags say, flushing for at most `--shutdown-flush-timeout` at
    /// shutdown.
    fn pubsub_config(&self) -> anyhow::Result<publish::PubSubConfig> {
        Ok(publish::PubSubConfig {
            shutdown_timeout: self.shutdown_flush_timeout,
            batching: self.batching()?,
            ..publish::PubSubConfig::from_env()
        })
    }

    /// The `--publish-…` flags, checked against each other.
    fn batching(&self) -> anyhow::Result<BatchSettings> {
        if self.publish_max_linger_ms < self.publish_linger_ms {
            bail!(
                "--publish-max-linger-ms {} is below --publish-linger-ms {}: a busy topic \
                 never waits less than a quiet one",
                self.publish_max_linger_ms,
                self.publish_linger_ms
            );
        }
        Ok(BatchSettings {
            max_delay: Duration::from_millis(self.publish_linger_ms),
            target_messages: self.publish_target_messages,
            max_linger: Duration::from_millis(self.publish_max_linger_ms),
            ..BatchSettings::default()
        })
    }

    fn buffer_config(&self) -> BufferConfig {
        let mut config = BufferConfig::new(&self.buffer_dir);
        config.max_bytes_per_topic = self.buffer_max_bytes_per_topic;
        config.segment_bytes = config
            .segment_bytes
            .min(self.buffer_max_bytes_per_topic / 4)
            .max(1);
        config.max_record_bytes = config
            .max_record_bytes
            .min(u32::try_from(self.buffer_max_bytes_per_topic / 4).unwrap_or(u32::MAX));
        config.fsync = match self.buffer_fsync {
            FsyncArg::Never => FsyncPolicy::Never,
            FsyncArg::Interval => FsyncPolicy::default(),
            FsyncArg::Always => FsyncPolicy::Always,
        };
        config
    }

    fn settings(&self) -> anyhow::Result<GatewaySettings> {
        let mut mp_secrets = std::collections::HashMap::new();
        for pair in &self.mp_secrets {
            for (id, secrets) in
                GatewaySettings::parse_mp_secrets(pair).map_err(anyhow::Error::msg)?
            {
                mp_secrets
                    .entry(id)
                    .or_insert_with(Vec::new)
                    .extend(secrets);
            }
        }
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|c| {
                c.parse::<Cidr>()
                    .map_err(|e| anyhow::anyhow!("--trusted-proxy {c}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(GatewaySettings {
            mp_secrets,
            debug_token: self.debug_token.clone().filter(|t| !t.is_empty()),
            trusted_proxies,
            limits: Limits {
                max_events: self.max_events,
                max_params_per_event: self.max_params,
                ..Limits::default()
            },
            max_body_bytes: self.max_body_bytes,
            allowed_origins: self.allowed_origins.clone(),
            mp_strict: MpStrictness {
                all: self.mp_strict,
                ids: self.mp_strict_ids.iter().cloned().collect(),
            },
            truncate_ip: self.truncate_ip,
            log_client_ids: self.log_client_ids,
            body_read_timeout: self.body_read_timeout_secs,
        })
    }

    fn preview_settings(&self) -> PreviewSettings {
        PreviewSettings {
            session_ttl: Duration::from_secs(self.preview_session_ttl),
            hits_per_session: self.preview_hits,
            max_sessions: self.preview_sessions,
        }
    }
}

/// A duration flag given in whole seconds.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{text:?} is not a number of seconds"))
}

/// The publisher behind the durable buffer (`--buffer disk`): opens (and replays) the
/// buffer, lanes publish to `--publisher`.
async fn durable_publisher(
    args: &GatewayArgs,
    registry: &mut Registry,
) -> anyhow::Result<DurablePublisher> {
    let buffer_metrics = BufferMetrics::register(registry);
    let buffer_config = args.buffer_config();
    let buffer = tokio::task::spawn_blocking(move || {
        Buffer::open_with_metrics(buffer_config, buffer_metrics)
    })
    .await
    .context("opening the buffer")?
    .with_context(|| format!("opening the buffer in {}", args.buffer_dir.display()))?;
    let mut durable = DurableConfig::new(
        args.pubsub_config()?,
        args.dead_letter_dir
            .clone()
            .unwrap_or_else(|| args.buffer_dir.join("dead-letter")),
    );
    durable.full_policy = args.buffer_full_policy;
    durable.dead_letter_topic = args.dead_letter_topic.clone();
    durable.probe_interval = Duration::from_secs(args.dead_letter_probe_seconds.max(1));
    durable.sink = args.publisher;
    Ok(DurablePublisher::start(
        buffer,
        durable,
        PublishMetrics::register(registry),
    ))
}

/// The publisher of `--buffer memory`: the in-memory queue of [`PubSubPublisher`], or for
/// `--publisher counting` the count at acceptance.
fn memory_publisher(
    args: &GatewayArgs,
    registry: &mut Registry,
) -> anyhow::Result<Arc<dyn Publisher>> {
    tracing::warn!("--buffer memory: accepted hits not yet published are lost if the process ends");
    let metrics = PublishMetrics::register(registry);
    Ok(match args.publisher {
        SinkKind::Pubsub => Arc::new(PubSubPublisher::start(args.pubsub_config()?, metrics)),
        SinkKind::Counting => Arc::new(CountingPublisher::new(metrics)),
    })
}

/// Run the gateway until SIGTERM or Ctrl-C; then, after the shutdown delay, finish the
/// requests in flight and flush pending messages (the rest stays in the buffer).
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    hermes_runtime::install_crypto_provider();
    if args.manifests.is_empty() && !args.cluster {
        bail!("give --manifests PATH (standalone) or --cluster");
    }
    let settings = args.settings()?;
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    // The failing topics go into this replica's report (cluster mode); only the durable
    // publisher's lanes tell them apart.
    let (publisher, failing_topics): (Arc<dyn Publisher>, _) = match args.buffer {
        BufferKind::Disk => {
            let durable = durable_publisher(&args, &mut registry).await?;
            let failing_topics = durable.watch_failing_topics();
            (Arc::new(durable), Some(failing_topics))
        }
        BufferKind::Memory => (memory_publisher(&args, &mut registry)?, None),
    };
    let store = Arc::new(ConfigStore::new(metrics.clone()));
    let sink: Arc<dyn ConfigSink> = store.clone();
    // In cluster mode, what to retire at shutdown: this replica's report Lease.
    let mut cluster_replica = None;
    let source = if args.cluster {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the Kubernetes API")?;
        let options = config_source::cluster::ClusterOptions {
            namespace: args.namespace.clone(),
            config_map: args.config_map.clone(),
            replica_id: args.replica_id.clone(),
            lease_duration: Duration::from_secs(10),
            failing_topics,
        };
        cluster_replica = Some((client.clone(), options.clone()));
        tokio::spawn(config_source::cluster::run(client, options, sink))
    } else {
        config_source::manifests::load_into(&args.manifests, "manifests", sink.as_ref())
            .context("loading --manifests")?;
        tokio::spawn(config_source::manifests::watch(
            args.manifests.clone(),
            "manifests".to_string(),
            sink,
            Duration::from_secs(1),
        ))
    };
    let state = Arc::new(AppState {
        config: store,
        publisher: publisher.clone(),
        settings,
        metrics,
        registry: Arc::new(registry),
        preview: Arc::new(PreviewRegistry::new(args.preview_settings())),
        draining: Draining::default(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(listen = %args.listen, "gateway serving");
    let header_read_timeout = args.header_read_timeout_secs;
    let shutdown = drain_after(
        hermes_runtime::shutdown_signal(),
        state.draining.clone(),
        args.shutdown_delay,
    );
    server::serve(listener, app(state), header_read_timeout, shutdown).await;
    source.abort();
    if let Some((client, options)) = cluster_replica {
        // The operator stops waiting for this replica at once instead of at lease expiry.
        if let Err(error) = config_source::cluster::retire(client, &options).await {
            tracing::warn!(%error, "could not remove this replica's report Lease");
        }
    }
    tracing::info!(
        queued = publisher.queue_depth(),
        "shutting down: publishing pending messages (the rest stays in the buffer)"
    );
    publisher.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Gateway {
        #[command(flatten)]
        args: GatewayArgs,
    }

    fn batching(flags: &[&str]) -> anyhow::Result<BatchSettings> {
        let argv = ["hermes-gateway", "--manifests", "examples"]
            .iter()
            .chain(flags);
        Gateway::try_parse_from(argv)?.args.batching()
    }

    #[test]
    fn publish_batching_flags_default_to_the_documented_values() {
        let settings = batching(&[]).unwrap();
        assert_eq!(settings, BatchSettings::default());
        assert_eq!(settings.max_delay, Duration::from_millis(5));
        assert_eq!(settings.target_messages, 150);
        assert_eq!(settings.max_linger, Duration::from_millis(250));
    }

    #[test]
    fn publish_batching_flags_set_the_lanes_linger() {
        let settings = batching(&[
            "--publish-linger-ms=5",
            "--publish-target-messages=400",
            "--publish-max-linger-ms=80",
        ])
        .unwrap();
        assert_eq!(settings.max_delay, Duration::from_millis(5));
        assert_eq!(settings.target_messages, 400);
        assert_eq!(settings.max_linger, Duration::from_millis(80));
    }

    #[test]
    fn publish_batching_flags_out_of_range_or_inconsistent_are_refused() {
        for flags in [
            &["--publish-target-messages=0"][..],
            &["--publish-target-messages=1001"],
            &["--publish-linger-ms=0"],
            &["--publish-max-linger-ms=5000"],
        ] {
            assert!(batching(flags).is_err(), "{flags:?} refused");
        }
        let error = batching(&["--publish-linger-ms=50", "--publish-max-linger-ms=20"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--publish-max-linger-ms"), "{error}");
    }
}
