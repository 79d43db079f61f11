//! The gateway's Prometheus metrics (text format on `/metrics`).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of hit counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HitLabels {
    /// `ga4` or `measurementProtocol`.
    pub client: String,
    /// `accepted`, or the rejection kind (`invalid`, `unauthorized`, `too_large`, …).
    pub outcome: String,
}

/// Labels naming a tag.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TagLabels {
    /// Tag name.
    pub tag: String,
}

/// Labels naming a trigger.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TriggerLabels {
    /// Trigger name.
    pub trigger: String,
}

/// Labels of config reloads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `success` or `failure`.
    pub outcome: String,
}

/// Labels of the config info gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConfigLabels {
    /// The served config's hash.
    pub hash: String,
}

/// Hit-path and config metrics. Publisher metrics register beside these.
pub struct Metrics {
    /// Hits by client and outcome.
    pub hits: Family<HitLabels, Counter>,
    /// Events evaluated by client.
    pub events: Family<HitLabels, Counter>,
    /// Triggers that fired.
    pub triggers_matched: Family<TriggerLabels, Counter>,
    /// Tags that fired.
    pub tags_fired: Family<TagLabels, Counter>,
    /// Messages a tag produced and could not hand to the publisher (queue full).
    pub tags_failed: Family<TagLabels, Counter>,
    /// Payload fields left out because the value did not fit the field's type.
    pub fields_dropped: Family<TagLabels, Counter>,
    /// Config loads.
    pub config_reloads: Family<ReloadLabels, Counter>,
    /// 1 for the hash being served.
    pub config_info: Family<ConfigLabels, Gauge>,
    info_lock: Mutex<()>,
}

impl Metrics {
    /// Create the metrics and register them in `registry` under `hermes_`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Metrics {
            hits: Family::default(),
            events: Family::default(),
            triggers_matched: Family::default(),
            tags_fired: Family::default(),
            tags_failed: Family::default(),
            fields_dropped: Family::default(),
            config_reloads: Family::default(),
            config_info: Family::default(),
            info_lock: Mutex::new(()),
        };
        registry.register(
            "hermes_hits",
            "Hits received, by client and outcome",
            metrics.hits.clone(),
        );
        registry.register(
            "hermes_events",
            "Events evaluated, by client",
            metrics.events.clone(),
        );
        registry.register(
            "hermes_triggers_matched",
            "Triggers that fired",
            metrics.triggers_matched.clone(),
        );
        registry.register(
            "hermes_tags_fired",
            "Tags that fired",
            metrics.tags_fired.clone(),
        );
        registry.register(
            "hermes_tags_failed",
            "Tag messages that could not be queued for publishing",
            metrics.tags_failed.clone(),
        );
        registry.register(
            "hermes_payload_fields_dropped",
            "Payload fields left out because the value did not fit the field type",
            metrics.fields_dropped.clone(),
        );
        registry.register(
            "hermes_config_reloads",
            "Config loads, by outcome",
            metrics.config_reloads.clone(),
        );
        registry.register(
            "hermes_config_info",
            "The config being served (value 1, label hash)",
            metrics.config_info.clone(),
        );
        metrics
    }

    /// Count a hit.
    pub fn hit(&self, client: &str, outcome: &str) {
        self.hits
            .get_or_create(&HitLabels {
                client: client.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub(crate) fn config_loaded(&self, previous: Option<&str>, hash: &str) {
        let _guard = self.info_lock.lock();
        if let Some(previous) = previous {
            self.config_info.remove(&ConfigLabels {
                hash: previous.to_string(),
            });
        }
        self.config_info
            .get_or_create(&ConfigLabels {
                hash: hash.to_string(),
            })
            .set(1);
        self.config_reloads
            .get_or_create(&ReloadLabels {
                outcome: "success".to_string(),
            })
            .inc();
    }

    pub(crate) fn config_failed(&self) {
        self.config_reloads
            .get_or_create(&ReloadLabels {
                outcome: "failure".to_string(),
            })
            .inc();
    }
}
