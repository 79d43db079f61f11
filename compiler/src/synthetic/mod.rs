//! Synthetic scopes of many Tags, each with its own Trigger: what the compile benchmark,
//! the operator scale tests and `operator-scale` measure with, in two [`Variety`]s:
//! uniform (below: four shapes of `examples/`, numbered names; they compress 50-fold) and
//! [`realistic`] (drawn from a seed, as varied as a real container's; they compress about
//! as badly as real configs, so 10,000 of them need several ConfigMaps).
//!
//! Why here: the benchmark (this crate), the end-to-end scale tests and the scale driver
//! (`hermes-tests`) must measure the same objects, and the compiler is the one crate all
//! of them depend on. Deterministic: pair `i` of a variety is always the same two objects.
//!
//! Uniform pair `i` is Tag `tag-<i>` fired by Trigger `trigger-<i>`, in one of four
//! shapes, by `i % 4`:
//! 0. a purchase with a promoted item → one message per promoted item (promotions.yaml);
//! 1. a named signal event → a two-field message (low-stock.yaml's `LowStock`);
//! 2. a Measurement Protocol purchase with two conditions → the whole event minus two
//!    keys plus one (server-to-server.yaml);
//! 3. event names matching a regex, with a `matchesRegex` condition → three fields.
//!
//! Event names repeat every 200 pairs and topics every 10, as in a real container where
//! many tags listen to the same few events.

use serde_json::{Value, json};

use hermes_crds::api::{Tag, Trigger};

use crate::compile::Resources;

pub mod realistic;

/// Which synthetic pairs: the uniform shapes of `examples/` or realistic ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variety {
    /// The four shapes of `examples/` with numbered names (the functions of this module):
    /// the benchmarks' first series and the 1,000-Tag CI test.
    Uniform,
    /// [`realistic`] pairs drawn from `seed`.
    Realistic {
        /// Pair `i` of a seed is always the same.
        seed: u64,
    },
}

impl Variety {
    /// Realistic pairs of [`realistic::DEFAULT_SEED`].
    pub const REALISTIC: Variety = Variety::Realistic {
        seed: realistic::DEFAULT_SEED,
    };

    /// `count` Tag + Trigger pairs publishing to topics of Google Cloud project `project`.
    pub fn pairs(self, count: usize, project: &str) -> Result<Resources, serde_json::Error> {
        let mut resources = Resources::default();
        resources.tags.reserve(count);
        resources.triggers.reserve(count);
        for i in 0..count {
            resources.triggers.push(self.trigger(i)?);
            resources.tags.push(self.tag_version(i, project, 1)?);
        }
        Ok(resources)
    }

    /// The Trigger of pair `i`.
    pub fn trigger(self, i: usize) -> Result<Trigger, serde_json::Error> {
        match self {
            Variety::Uniform => trigger(i),
            Variety::Realistic { seed } => {
                let pair = realistic::Pair::new(seed, i);
                let spec = pair.trigger_spec();
                serde_json::from_value(object("Trigger", pair.trigger_name(), spec))
            }
        }
    }

    /// The Tag of pair `i` with a constant payload field `version`: changing it changes
    /// the Tag's spec (a new generation) without changing what it fires on.
    pub fn tag_version(
        self,
        i: usize,
        project: &str,
        version: u64,
    ) -> Result<Tag, serde_json::Error> {
        match self {
            Variety::Uniform => tag_version(i, project, version),
            Variety::Realistic { seed } => {
                let pair = realistic::Pair::new(seed, i);
                let spec = pair.tag_spec(project, version);
                serde_json::from_value(object("Tag", pair.tag_name(), spec))
            }
        }
    }

    /// The name of the Tag of pair `i`.
    pub fn tag_name(self, i: usize) -> String {
        match self {
            Variety::Uniform => tag_name(i),
            Variety::Realistic { seed } => realistic::Pair::new(seed, i).tag_name().to_string(),
        }
    }

    /// The name of the Trigger of pair `i`.
    pub fn trigger_name(self, i: usize) -> String {
        match self {
            Variety::Uniform => trigger_name(i),
            Variety::Realistic { seed } => realistic::Pair::new(seed, i).trigger_name().to_string(),
        }
    }

    /// The topic (name, without project) the Tag of pair `i` publishes to.
    pub fn topic(self, i: usize) -> String {
        match self {
            Variety::Uniform => uniform_topic(i),
            Variety::Realistic { seed } => realistic::Pair::new(seed, i).topic().to_string(),
        }
    }

    /// Every topic this variety's Tags may publish to: they must exist, or the operator's
    /// topic check keeps their Tags from Ready.
    pub fn topic_names(self) -> Vec<String> {
        match self {
            Variety::Uniform => (0..10).map(uniform_topic).collect(),
            Variety::Realistic { .. } => realistic::topic_names(),
        }
    }

    /// A `/g/collect` request (path and query) that fires the Tag of pair `i`, where one
    /// is known: every realistic pair but the Measurement-Protocol-only ones; the uniform
    /// signal pairs (`i % 4 == 1`).
    pub fn gtag_hit(self, i: usize) -> Option<String> {
        match self {
            Variety::Uniform => (i % 4 == 1).then(|| {
                format!(
                    "/g/collect?v=2&tid=G-0000&en={}&ep.sku=BOWL-10",
                    event_name(i)
                )
            }),
            Variety::Realistic { seed } => realistic::Pair::new(seed, i).gtag_hit(i),
        }
    }
}

fn uniform_topic(i: usize) -> String {
    format!("scale-{}", i % 10)
}

/// The name of the Tag of pair `i`.
pub fn tag_name(i: usize) -> String {
    format!("tag-{i:05}")
}

/// The name of the Trigger of pair `i`.
pub fn trigger_name(i: usize) -> String {
    format!("trigger-{i:05}")
}

/// The event name pair `i`'s Trigger listens to (shapes 0-2; shape 3 matches a regex
/// that includes it).
pub fn event_name(i: usize) -> String {
    format!("event_{:03}", i % 200)
}

/// `count` uniform Tag + Trigger pairs publishing to topics of Google Cloud project
/// `project`.
pub fn pairs(count: usize, project: &str) -> Result<Resources, serde_json::Error> {
    Variety::Uniform.pairs(count, project)
}

/// The Trigger of pair `i`.
pub fn trigger(i: usize) -> Result<Trigger, serde_json::Error> {
    let event = event_name(i);
    let spec = match i % 4 {
        0 => json!({
            "event": {"name": event},
            "conditions": [{"variable": {"item": "promotion_id"}, "operator": "notEmpty"}],
        }),
        1 => json!({"event": {"name": event}}),
        2 => json!({
            "client": "measurementProtocol",
            "event": {"name": event},
            "conditions": [
                {"variable": {"eventData": "client_id"}, "operator": "notEmpty"},
                {"variable": {"eventData": "ga_session_id"}, "operator": "exists"},
            ],
        }),
        _ => json!({
            "event": {"regex": format!("{event}|{event}_(start|end)")},
            "conditions": [{
                "variable": {"eventData": "page_location"},
                "operator": "matchesRegex",
                "value": format!("^https://shop\\.example/c/{i}/"),
            }],
        }),
    };
    serde_json::from_value(object("Trigger", &trigger_name(i), spec))
}

/// The Tag of pair `i`, version 1 (see [`tag_version`]).
pub fn tag(i: usize, project: &str) -> Result<Tag, serde_json::Error> {
    tag_version(i, project, 1)
}

/// The Tag of pair `i` with a constant field `version`: changing it changes the Tag's
/// spec (a new generation) without changing what it fires on.
pub fn tag_version(i: usize, project: &str, version: u64) -> Result<Tag, serde_json::Error> {
    let topic = format!("projects/{project}/topics/{}", uniform_topic(i));
    let field = |key: &str, value: Value| json!({"key": key, "value": value});
    let version_field = field("version", json!({"constant": version.to_string()}));
    let spec = match i % 4 {
        0 => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "perItem": {
                "conditions": [{"variable": {"item": "promotion_id"}, "operator": "notEmpty"}],
            },
            "payload": {"fields": [
                field("transaction_id", json!({"eventData": "transaction_id"})),
                {"key": "value", "value": {"eventData": "value"}, "type": "number"},
                field("currency", json!({"eventData": "currency"})),
                field("item_id", json!({"item": "item_id"})),
                field("promotion_id", json!({"item": "promotion_id"})),
                field("promotion_name", json!({"item": "promotion_name"})),
                version_field,
            ]},
            "attributes": [{"name": "event_name", "value": {"eventData": "event_name"}}],
            "orderingKey": {"eventData": "transaction_id"},
        }),
        1 => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "payload": {"fields": [
                field("sku", json!({"eventData": "sku"})),
                field("source", json!({"constant": "signal"})),
                version_field,
            ]},
        }),
        2 => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "payload": {"eventData": {
                "exclude": ["ip_override", "user_agent"],
                "add": [field("source", json!({"constant": "shop-backend"})), version_field],
            }},
        }),
        _ => json!({
            "firingTriggers": [trigger_name(i)],
            "topic": topic,
            "payload": {"fields": [
                field("page", json!({"eventData": "page_location"})),
                field("client", json!({"eventData": "client_id"})),
                version_field,
            ]},
            "consent": {"analyticsStorage": true},
        }),
    };
    serde_json::from_value(object("Tag", &tag_name(i), spec))
}

fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "hermes.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;

    #[test]
    fn every_shape_compiles_without_diagnostics() {
        let resources = pairs(8, "hermes-local").unwrap();
        let output = compile("scale", &resources);
        assert_eq!(output.diagnostics, []);
        assert_eq!(output.config.tags.len(), 8);
        assert_eq!(output.config.triggers.len(), 8);
        assert!(output.objects.iter().all(|o| o.accepted));
    }

    fn gzip_ratio(resources: &Resources) -> (f64, crate::contract::EncodedConfig) {
        let config = compile("scale", resources).config;
        let limits =
            crate::contract::ConfigMapLimits::new(crate::contract::MIN_SHARD_BYTES, 10_000);
        let encoded = crate::contract::encode_within(&config, limits).unwrap();
        (
            encoded.json_bytes as f64 / encoded.stored_bytes as f64,
            encoded,
        )
    }

    #[test]
    fn realistic_pairs_compile_without_diagnostics_with_distinct_names() {
        let resources = Variety::REALISTIC.pairs(600, "hermes-local").unwrap();
        let output = compile("scale", &resources);
        assert_eq!(output.diagnostics, []);
        assert_eq!(output.config.tags.len(), 600);
        assert_eq!(output.config.triggers.len(), 600);
        assert!(output.objects.iter().all(|o| o.accepted));
        let topics: std::collections::BTreeSet<_> = output
            .config
            .tags
            .values()
            .map(|t| t.topic.clone())
            .collect();
        assert!(topics.len() >= 30, "{} topics", topics.len());
        let per_item = output.config.tags.values().filter(|t| t.per_item.is_some());
        assert!(per_item.count() >= 30);
        let hits = (0..600).filter_map(|i| Variety::REALISTIC.gtag_hit(i));
        assert!(hits.count() >= 500);
    }

    #[test]
    fn realistic_pairs_are_the_same_for_a_seed_and_differ_between_seeds() {
        let one = Variety::Realistic { seed: 1 };
        let two = Variety::Realistic { seed: 2 };
        let tag = |variety: Variety| {
            serde_json::to_value(variety.tag_version(7, "p", 1).unwrap()).unwrap()
        };
        let trigger = |variety: Variety| serde_json::to_value(variety.trigger(7).unwrap()).unwrap();
        assert_eq!(tag(one), tag(one));
        assert_eq!(trigger(one), trigger(one));
        assert_ne!(tag(one), tag(two));
        assert_ne!(trigger(one), trigger(two));
        let in_pairs = &one.pairs(20, "p").unwrap().tags[7];
        assert_eq!(serde_json::to_value(in_pairs).unwrap(), tag(one));
    }

    #[test]
    fn realistic_pairs_compress_several_times_worse_than_uniform_ones() {
        let (uniform, _) = gzip_ratio(&pairs(2_000, "hermes-local").unwrap());
        let (realistic, encoded) =
            gzip_ratio(&Variety::REALISTIC.pairs(2_000, "hermes-local").unwrap());
        assert!(uniform > 30.0, "uniform compresses {uniform:.1}-fold");
        assert!(realistic < 15.0, "realistic compresses {realistic:.1}-fold");
        // 2,000 pairs: a fifth of 10,000, more than a fifth of a ConfigMap.
        assert!(
            encoded.stored_bytes * 5 > crate::contract::SHARD_LIMIT_BYTES,
            "{} bytes of gzip",
            encoded.stored_bytes
        );
    }

    #[test]
    fn a_new_tag_version_changes_the_config_hash() {
        let mut resources = pairs(4, "hermes-local").unwrap();
        let before = compile("scale", &resources).config;
        resources.tags[1] = tag_version(1, "hermes-local", 2).unwrap();
        let after = compile("scale", &resources).config;
        assert_eq!(after.tags.len(), 4);
        assert_ne!(after.tags["tag-00001"], before.tags["tag-00001"]);
        assert_ne!(after.hash, before.hash);
    }
}
