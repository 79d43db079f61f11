//! The gateway's current config: prepared once, swapped atomically, read lock-free on
//! the hit path.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use hermes_compiler::config::GatewayConfig;

use super::{ConfigLoadError, ConfigSink};
use crate::events::{ConfigLoaded, ConfigRefused};
use crate::fire::PreparedConfig;
use crate::metrics::Metrics;

/// Holds the config being served. Hits take a snapshot with [`ConfigStore::current`];
/// sources replace it with [`ConfigSink::offer`].
pub struct ConfigStore {
    current: ArcSwapOption<PreparedConfig>,
    metrics: Arc<Metrics>,
}

impl ConfigStore {
    /// An empty store (not ready until the first config loads).
    pub fn new(metrics: Arc<Metrics>) -> Self {
        ConfigStore {
            current: ArcSwapOption::empty(),
            metrics,
        }
    }

    /// The config serving now, if any.
    pub fn current(&self) -> Option<Arc<PreparedConfig>> {
        self.current.load_full()
    }
}

impl ConfigSink for ConfigStore {
    fn offer(&self, config: GatewayConfig) -> Result<(), ConfigLoadError> {
        if self.current_hash().as_deref() == Some(config.hash.as_str()) {
            return Ok(());
        }
        let hash = config.hash.clone();
        match PreparedConfig::prepare(config) {
            Ok(prepared) => {
                let previous = self.current_hash();
                self.current.store(Some(Arc::new(prepared)));
                ConfigLoaded {
                    hash: &hash,
                    previous: previous.as_deref(),
                }
                .emit(&self.metrics);
                Ok(())
            }
            Err(error) => {
                ConfigRefused {
                    hash: &hash,
                    error: &error,
                }
                .emit(&self.metrics);
                Err(ConfigLoadError::Prepare(error.to_string()))
            }
        }
    }

    fn current_hash(&self) -> Option<String> {
        self.current.load().as_ref().map(|c| c.hash().to_string())
    }
}
