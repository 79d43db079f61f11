//! Where the gateway's config comes from: a manifests folder (standalone) or the
//! compiled config the operator writes (cluster). Each source hands configs to a
//! [`ConfigSink`]; the sink prepares and swaps them in atomically, and a config that fails
//! to load leaves the previous one serving.

use hermes_compiler::config::GatewayConfig;

pub mod cluster;
pub mod manifests;
mod store;

pub use store::ConfigStore;

/// Receives configs from a source.
pub trait ConfigSink: Send + Sync {
    /// Prepare and swap in `config`. On error the previous config keeps serving and the
    /// error says why (e.g. a regex that does not compile in this build).
    fn offer(&self, config: GatewayConfig) -> Result<(), ConfigLoadError>;

    /// The hash of the config being served now (`None` before the first load).
    fn current_hash(&self) -> Option<String>;
}

/// Why a config was not swapped in.
#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    /// The serialized config was refused (version, hash, JSON).
    #[error(transparent)]
    Invalid(#[from] hermes_compiler::config::ConfigError),
    /// The config is well-formed but cannot be prepared for evaluation.
    #[error("config cannot be prepared: {0}")]
    Prepare(String),
    /// The config could not be read from its source.
    #[error("config source: {0}")]
    Source(String),
}
