//! The operator's command line, shared by `hermes-operator` and `hermes operator`:
//! flags, logging, the Kubernetes client, signals.

use std::net::SocketAddr;
use std::time::Duration;

use crate::publication::PublicationOptions;
use crate::topic_check::TopicCheckOptions;
use crate::{LeaderOptions, Options};
use anyhow::Context as _;
use hermes_compiler::contract;
use hermes_runtime::LogFormat;

/// The operator's flags.
#[derive(clap::Args, Debug)]
pub struct OperatorArgs {
    /// A namespace to reconcile (repeat for several). Default: $POD_NAMESPACE, else
    /// `default`.
    #[arg(long = "namespace", short = 'n', conflicts_with = "all_namespaces")]
    namespaces: Vec<String>,
    /// Reconcile every namespace that holds a Tag, Trigger or LookupTable (needs
    /// cluster-wide list/watch: the chart's `operator.watchNamespaces: []` mode).
    #[arg(long, short = 'A')]
    all_namespaces: bool,
    /// The gateway config ConfigMap's name in each namespace.
    #[arg(long, default_value = contract::DEFAULT_CONFIG_MAP)]
    config_map: String,
    /// This replica's identity. Default: $POD_NAME, else host name and process id.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Where the leader Lease lives. Default: $POD_NAMESPACE, else the first namespace,
    /// else `default`.
    #[arg(long)]
    leader_namespace: Option<String>,
    /// Leader Lease duration in seconds: a dead leader is replaced within about this long.
    #[arg(long, default_value_t = 15)]
    leader_lease_seconds: u64,
    /// Run without leader election (only ever one replica).
    #[arg(long)]
    no_leader_election: bool,
    /// Publish each config publication outcome to this topic, `projects/P/topics/T`
    /// (to the emulator at $PUBSUB_EMULATOR_HOST when set).
    #[arg(long)]
    publication_topic: Option<String>,
    /// Check with Pub/Sub's admin API that each Tag's topic exists before calling it
    /// Ready (needs `roles/pubsub.viewer` on the topics; without it, or without Pub/Sub,
    /// the check is skipped and blocks nothing). `--check-topics=false` turns it off.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    check_topics: bool,
    /// How long a topic check's answer is trusted, in seconds.
    #[arg(long, default_value_t = 60)]
    topic_check_ttl_seconds: u64,
    /// Serve Prometheus metrics on this address (`/metrics`, `/healthz`).
    #[arg(long, default_value = "0.0.0.0:9090")]
    metrics_addr: SocketAddr,
    /// Wait this long after a change for more changes before reconciling.
    #[arg(long, default_value_t = 100)]
    debounce_ms: u64,
    /// Split a config too large for one ConfigMap into at most this many shard
    /// ConfigMaps; a config needing more is not written (`ConfigTooLarge`).
    #[arg(long, default_value_t = contract::MAX_SHARDS)]
    max_config_shards: usize,
    /// The most bytes of config one ConfigMap holds (plain JSON, gzip, or one shard's
    /// part). Default and maximum: what the API server accepts; lower it only to see
    /// sharding with small configs (tests, trials).
    #[arg(long, default_value_t = contract::SHARD_LIMIT_BYTES, value_parser = shard_bytes)]
    config_shard_bytes: usize,
    /// Give up on an API request after this many seconds (watches excepted), so that a
    /// request lost on a dead connection is retried instead of waiting for the client's
    /// 295 s read timeout.
    #[arg(long, default_value_t = crate::api_timeout::DEFAULT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    api_request_timeout_seconds: u64,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Run until SIGTERM or Ctrl-C (logging set up by the caller, see [`hermes_runtime::init_logging`]).
pub async fn run(args: OperatorArgs) -> anyhow::Result<()> {
    hermes_runtime::install_crypto_provider();

    let pod_namespace = std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty());
    let namespaces = if args.all_namespaces {
        Vec::new()
    } else if args.namespaces.is_empty() {
        vec![
            pod_namespace
                .clone()
                .unwrap_or_else(|| "default".to_string()),
        ]
    } else {
        args.namespaces.clone()
    };
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let mut options = Options::new(namespaces.clone(), identity.clone());
    options.all_namespaces = args.all_namespaces;
    options.config_map = args.config_map.clone();
    options.publication = args
        .publication_topic
        .clone()
        .map(|topic| PublicationOptions {
            topic,
            emulator_host: std::env::var("PUBSUB_EMULATOR_HOST").ok(),
        });
    options.pubsub_emulator_host = std::env::var("PUBSUB_EMULATOR_HOST").ok();
    if args.check_topics {
        let mut check = TopicCheckOptions::new(options.pubsub_emulator_host.clone());
        check.ttl = Duration::from_secs(args.topic_check_ttl_seconds.max(1));
        options.topic_check = Some(check);
    }
    options.metrics_addr = Some(args.metrics_addr);
    options.debounce = Duration::from_millis(args.debounce_ms);
    options.max_config_shards = args.max_config_shards;
    options.config_shard_bytes = args.config_shard_bytes;
    options.api_request_timeout = Duration::from_secs(args.api_request_timeout_seconds);
    if !args.no_leader_election {
        options.leader = Some(LeaderOptions {
            namespace: args
                .leader_namespace
                .clone()
                .or(pod_namespace)
                .or_else(|| namespaces.first().cloned())
                .unwrap_or_else(|| "default".to_string()),
            lease_name: contract::OPERATOR_LEASE.to_string(),
            identity,
            duration: Duration::from_secs(args.leader_lease_seconds),
        });
    }
    let client = kube::Client::try_default()
        .await
        .context("cannot build a Kubernetes client (KUBECONFIG or in-cluster)")?;
    crate::run(client, options, hermes_runtime::shutdown_signal()).await?;
    Ok(())
}

/// `--config-shard-bytes`: a size a ConfigMap can hold, and not so small that a config
/// needs thousands of them.
fn shard_bytes(value: &str) -> Result<usize, String> {
    let bytes: usize = value
        .parse()
        .map_err(|e| format!("{value:?} is not a byte count: {e}"))?;
    let range = contract::MIN_SHARD_BYTES..=contract::SHARD_LIMIT_BYTES;
    if range.contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!(
            "{bytes} is outside {}..={} (what one ConfigMap can hold)",
            range.start(),
            range.end()
        ))
    }
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hermes-operator".to_string());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::OperatorArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: OperatorArgs,
    }

    #[test]
    fn all_namespaces_parses_and_refuses_a_namespace_list_beside_it() {
        let cli = Cli::try_parse_from(["hermes-operator", "--all-namespaces"]).unwrap();
        assert!(cli.args.all_namespaces);
        assert!(cli.args.namespaces.is_empty());
        let both = Cli::try_parse_from(["hermes-operator", "-A", "--namespace", "shop"]);
        assert!(
            both.is_err(),
            "--all-namespaces with --namespace is refused"
        );
        let listed = Cli::try_parse_from(["hermes-operator", "-n", "shop"]).unwrap();
        assert!(!listed.args.all_namespaces);
    }

    #[test]
    fn config_shard_bytes_defaults_to_a_full_config_map_and_refuses_what_none_holds() {
        let default = Cli::try_parse_from(["hermes-operator"]).unwrap();
        assert_eq!(
            default.args.config_shard_bytes,
            hermes_compiler::contract::SHARD_LIMIT_BYTES
        );
        let low = Cli::try_parse_from(["hermes-operator", "--config-shard-bytes", "16384"]);
        assert_eq!(low.unwrap().args.config_shard_bytes, 16384);
        for refused in ["0", "1023", "2000000", "16k"] {
            let parsed = Cli::try_parse_from(["hermes-operator", "--config-shard-bytes", refused]);
            assert!(parsed.is_err(), "--config-shard-bytes {refused} is refused");
        }
    }

    #[test]
    fn api_requests_give_up_after_ten_seconds_unless_told_and_never_at_once() {
        let default = Cli::try_parse_from(["hermes-operator"]).unwrap();
        assert_eq!(default.args.api_request_timeout_seconds, 10);
        let set = Cli::try_parse_from(["hermes-operator", "--api-request-timeout-seconds", "3"]);
        assert_eq!(set.unwrap().args.api_request_timeout_seconds, 3);
        let zero = Cli::try_parse_from(["hermes-operator", "--api-request-timeout-seconds", "0"]);
        assert!(zero.is_err(), "a zero timeout is refused");
    }

    #[test]
    fn topics_are_checked_unless_turned_off() {
        let default = Cli::try_parse_from(["hermes-operator"]).unwrap();
        assert!(default.args.check_topics);
        let bare = Cli::try_parse_from(["hermes-operator", "--check-topics"]).unwrap();
        assert!(bare.args.check_topics);
        let off = Cli::try_parse_from(["hermes-operator", "--check-topics=false"]).unwrap();
        assert!(!off.args.check_topics);
    }
}
