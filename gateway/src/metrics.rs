//! The gateway's Prometheus metrics (text format on `/metrics`): the hit path and the
//! config here, the publisher's in [`crate::publish::PublishMetrics`]. Names follow
//! `hermes_<component>_<what>[_total|_seconds]`; every metric is listed in
//! `docs/metrics.md`. Only [`crate::events`] bumps them, so each count has its log line.

use std::sync::Mutex;

use hermes_crds::api::ClientKind;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry, Unit};

use crate::events::{ConfigLoadOutcome, HitOutcome};

/// Labels of `hermes_gateway_hits_total`. Both are static: counting a hit allocates
/// nothing.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HitLabels {
    /// `ga4` or `measurementProtocol`.
    pub client: &'static str,
    /// How the hit ended ([`HitOutcome::as_str`]).
    pub outcome: HitOutcome,
}

/// Labels of `hermes_gateway_events_evaluated_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClientLabels {
    /// `ga4` or `measurementProtocol`.
    pub client: &'static str,
}

/// Labels of `hermes_gateway_mp_dropped_total`. Both are static.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MpDroppedLabels {
    /// Google's validation code, e.g. `VALUE_OUT_OF_BOUNDS`.
    pub code: &'static str,
    /// What was left out: `request`, `event`, `parameter`, `item` or `user_property`.
    pub part: &'static str,
}

/// Labels naming a tag: every per-tag series, on the hit path and in the publisher.
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

/// Labels of `hermes_gateway_config_loads_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConfigLoadLabels {
    /// `loaded` or `refused` ([`ConfigLoadOutcome::as_str`]).
    pub outcome: ConfigLoadOutcome,
}

/// Labels of the config info gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConfigLabels {
    /// The served config's hash.
    pub hash: String,
}

impl EncodeLabelValue for HitOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

impl EncodeLabelValue for ConfigLoadOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// Hit-path and config metrics (`hermes_gateway_…`). Publisher metrics register beside
/// these.
#[derive(Debug)]
pub struct Metrics {
    /// Hits by client and outcome.
    pub hits: Family<HitLabels, Counter>,
    /// Events evaluated by client.
    pub events_evaluated: Family<ClientLabels, Counter>,
    /// Triggers that fired.
    pub triggers_matched: Family<TriggerLabels, Counter>,
    /// Tags that fired.
    pub tags_fired: Family<TagLabels, Counter>,
    /// Messages a tag rendered that the publisher did not accept.
    pub tag_messages_not_enqueued: Family<TagLabels, Counter>,
    /// Payload fields left out because the value did not fit the field's type.
    pub fields_dropped: Family<TagLabels, Counter>,
    /// Parts of accepted Measurement Protocol requests dropped, by code and part.
    pub mp_dropped: Family<MpDroppedLabels, Counter>,
    /// Config loads by outcome.
    pub config_loads: Family<ConfigLoadLabels, Counter>,
    /// 1 for the hash being served.
    pub config_info: Family<ConfigLabels, Gauge>,
    /// Serializes the swap of the `config_info` series (remove old, set new).
    pub(crate) config_info_lock: Mutex<()>,
    /// The `hits` series of accepted hits, by client (see [`PerClient`]).
    pub(crate) accepted_hits: PerClient,
    /// The `events_evaluated` series, by client (see [`PerClient`]).
    pub(crate) evaluated_events: PerClient,
}

/// One series of a family per client, taken out when the metrics are made. Every hit and
/// every event bump one of these: through the family, each bump hashed its labels (with
/// SipHash) under the family's lock; through this, it is one atomic add. The series
/// exist, at 0, from the start.
#[derive(Debug)]
pub(crate) struct PerClient {
    ga4: Counter,
    measurement_protocol: Counter,
}

impl PerClient {
    fn new(series: impl Fn(&'static str) -> Counter) -> Self {
        PerClient {
            ga4: series(ClientKind::Ga4.as_str()),
            measurement_protocol: series(ClientKind::MeasurementProtocol.as_str()),
        }
    }

    /// The series of `client`.
    pub(crate) fn get(&self, client: ClientKind) -> &Counter {
        match client {
            ClientKind::Ga4 => &self.ga4,
            ClientKind::MeasurementProtocol => &self.measurement_protocol,
        }
    }
}

impl Metrics {
    /// Create the metrics and register them in `registry` under `hermes_gateway_`.
    pub fn register(registry: &mut Registry) -> Self {
        let mut r = Registrar::new(registry, "hermes_gateway");
        let hits: Family<HitLabels, Counter> =
            r.add("hits", "Hits received, by client and outcome");
        let events_evaluated: Family<ClientLabels, Counter> =
            r.add("events_evaluated", "Events evaluated, by client");
        let accepted_hits = PerClient::new(|client| {
            let outcome = HitOutcome::Accepted;
            hits.get_or_create(&HitLabels { client, outcome }).clone()
        });
        let evaluated_events = PerClient::new(|client| {
            events_evaluated
                .get_or_create(&ClientLabels { client })
                .clone()
        });
        Metrics {
            hits,
            events_evaluated,
            triggers_matched: r.add("triggers_matched", "Triggers that fired"),
            tags_fired: r.add("tags_fired", "Tags that fired"),
            tag_messages_not_enqueued: r.add(
                "tag_messages_not_enqueued",
                "Tag messages the publisher did not accept",
            ),
            fields_dropped: r.add("payload_fields_dropped", "Payload fields left out"),
            mp_dropped: r.add(
                "mp_dropped",
                "Parts of accepted Measurement Protocol requests dropped, by validation code and part",
            ),
            config_loads: r.add("config_loads", "Config loads, by outcome"),
            config_info: r.add("config_info", "The config being served (1, label hash)"),
            config_info_lock: Mutex::new(()),
            accepted_hits,
            evaluated_events,
        }
    }
}

/// Registers metrics under one component prefix and hands each back, so a metrics
/// struct is built in one expression, one line per metric.
pub(crate) struct Registrar<'a> {
    registry: &'a mut Registry,
}

impl<'a> Registrar<'a> {
    /// Register below `prefix` (`hermes_<component>`).
    pub(crate) fn new(registry: &'a mut Registry, prefix: &str) -> Self {
        Registrar {
            registry: registry.sub_registry_with_prefix(prefix),
        }
    }

    /// A new default metric (counters, gauges, families), registered.
    pub(crate) fn add<M: Metric + Clone + Default>(&mut self, name: &str, help: &str) -> M {
        let metric = M::default();
        self.registry.register(name, help, metric.clone());
        metric
    }

    /// A histogram with `buckets`, registered with `unit` (which suffixes the name).
    pub(crate) fn histogram(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        buckets: impl Iterator<Item = f64>,
    ) -> Histogram {
        let histogram = Histogram::new(buckets);
        match unit {
            Some(unit) => self
                .registry
                .register_with_unit(name, help, unit, histogram.clone()),
            None => self.registry.register(name, help, histogram.clone()),
        }
        histogram
    }
}
