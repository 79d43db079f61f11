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
use crate::publish::{self, Publisher};
use crate::server::{AppState, app};
use crate::settings::{DEFAULT_MAX_BODY_BYTES, GatewaySettings};

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

impl GatewayArgs {
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

/// Run the gateway until SIGTERM or Ctrl-C, then flush pending messages.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    hermes_runtime::install_crypto_provider();
    if args.manifests.is_empty() && !args.cluster {
        bail!("give --manifests PATH (standalone) or --cluster");
    }
    let settings = args.settings()?;
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let publisher: Arc<dyn Publisher> = Arc::new(publish::PubSubPublisher::start(
        publish::PubSubConfig::from_env(),
        publish::PublishMetrics::register(&mut registry),
    ));
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
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(listen = %args.listen, "gateway serving");
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(hermes_runtime::shutdown_signal())
    .await
    .context("serving")?;
    source.abort();
    if let Some((client, options)) = cluster_replica {
        // The operator stops waiting for this replica at once instead of at lease expiry.
        if let Err(error) = config_source::cluster::retire(client, &options).await {
            tracing::warn!(%error, "could not remove this replica's report Lease");
        }
    }
    tracing::info!(
        queued = publisher.queue_depth(),
        "shutting down: flushing pending messages"
    );
    publisher.shutdown().await;
    Ok(())
}
