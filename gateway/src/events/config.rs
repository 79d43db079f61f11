//! A config offered to the gateway: loaded (now serving) or refused (the previous one
//! keeps serving).

use std::fmt::Display;
use std::sync::PoisonError;

use crate::metrics::{ConfigLabels, ConfigLoadLabels, Metrics};

/// The `outcome` label of `hermes_gateway_config_loads_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ConfigLoadOutcome {
    /// Prepared and swapped in.
    Loaded,
    /// Not prepared; the previous config keeps serving.
    Refused,
}

impl ConfigLoadOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigLoadOutcome::Loaded => "loaded",
            ConfigLoadOutcome::Refused => "refused",
        }
    }
}

fn count(metrics: &Metrics, outcome: ConfigLoadOutcome) {
    metrics
        .config_loads
        .get_or_create(&ConfigLoadLabels { outcome })
        .inc();
}

/// A config was swapped in; `hermes_gateway_config_info` moves to its hash.
pub(crate) struct ConfigLoaded<'a> {
    pub hash: &'a str,
    pub previous: Option<&'a str>,
}

impl ConfigLoaded<'_> {
    pub(crate) fn emit(self, metrics: &Metrics) {
        tracing::info!(config_hash = self.hash, "config loaded");
        {
            let _swap = metrics
                .config_info_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(previous) = self.previous {
                metrics.config_info.remove(&ConfigLabels {
                    hash: previous.to_owned(),
                });
            }
            metrics
                .config_info
                .get_or_create(&ConfigLabels {
                    hash: self.hash.to_owned(),
                })
                .set(1);
        }
        count(metrics, ConfigLoadOutcome::Loaded);
    }
}

/// A config could not be prepared; the previous one keeps serving.
pub(crate) struct ConfigRefused<'a> {
    pub hash: &'a str,
    pub error: &'a dyn Display,
}

impl ConfigRefused<'_> {
    pub(crate) fn emit(self, metrics: &Metrics) {
        count(metrics, ConfigLoadOutcome::Refused);
        tracing::warn!(
            config_hash = self.hash,
            error = %self.error,
            "config refused; previous config keeps serving"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn a_loaded_config_moves_the_info_series_to_its_hash_and_a_refusal_keeps_it() {
        let metrics = Metrics::register(&mut Registry::default());
        let info = |hash: &str| {
            metrics
                .config_info
                .get(&ConfigLabels { hash: hash.into() })
                .map(|gauge| gauge.get())
        };
        ConfigLoaded {
            hash: "sha256:a",
            previous: None,
        }
        .emit(&metrics);
        ConfigLoaded {
            hash: "sha256:b",
            previous: Some("sha256:a"),
        }
        .emit(&metrics);
        ConfigRefused {
            hash: "sha256:c",
            error: &"regex too big",
        }
        .emit(&metrics);
        assert_eq!(info("sha256:a"), None);
        assert_eq!(info("sha256:b"), Some(1));
        assert_eq!(info("sha256:c"), None);
        let loads = |outcome| {
            metrics
                .config_loads
                .get_or_create(&ConfigLoadLabels { outcome })
                .get()
        };
        assert_eq!(loads(ConfigLoadOutcome::Loaded), 2);
        assert_eq!(loads(ConfigLoadOutcome::Refused), 1);
    }
}
