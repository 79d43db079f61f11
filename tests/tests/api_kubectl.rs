//! The `hermes.io/v1alpha1` API as a GitOps user meets it through the real `kubectl` and
//! API server (1.20, no CEL): the schema refuses what the compiler would refuse anyway
//! (two-source variables, duplicate keys, unknown fields), accepts unquoted scalars, and
//! `kubectl get hermes` shows meaningful columns for every kind.

use hermes_compiler::compile::{PROJECT_KEY, SETTINGS_CONFIG_MAP};
use hermes_crds::api::{LookupTable, Tag, Trigger};
use hermes_tests::fixtures::{self, LookupTableFixture, TagFixture, TriggerFixture, event_data};
use hermes_tests::gateway_config::wait_config;
use hermes_tests::gateway_watcher::GatewayWatcher;
use hermes_tests::operator::{Operator, options};
use hermes_tests::status::wait_ready;
use hermes_tests::{TIMEOUT, namespace_with_crds, wait_for};
use serde_json::json;

/// `kubectl apply -f -` of `yaml` in `ns`: whether it succeeded, and stderr.
async fn apply_yaml(ns: &hermes_tests::TestNamespace, yaml: &str) -> (bool, String) {
    let output = ns
        .kubectl_output(&["apply", "-f", "-"], Some(yaml))
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const TRIGGER_WITH_TWO_SOURCES: &str = "
apiVersion: hermes.io/v1alpha1
kind: Trigger
metadata: {name: two-sources}
spec:
  conditions:
    - variable: {eventData: sku, constant: x}
      operator: exists
";

const TAG_WITH_DUPLICATE_FIELD_KEYS: &str = "
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata: {name: duplicate-keys}
spec:
  firingTriggers: [t]
  topic: low-stock
  payload:
    fields:
      - {key: sku, value: {eventData: sku}}
      - {key: sku, value: {eventData: item_id}}
";

const TAG_WITH_UNKNOWN_FIELD: &str = "
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata: {name: unknown-field}
spec:
  firingTriggers: [t]
  topic: low-stock
  toppic: typo
";

const TRIGGER_WITH_TWO_EVENT_FORMS: &str = "
apiVersion: hermes.io/v1alpha1
kind: Trigger
metadata: {name: two-forms}
spec:
  event: {name: purchase, regex: '^add_'}
";

const UNQUOTED_SCALARS: &str = "
apiVersion: hermes.io/v1alpha1
kind: Trigger
metadata: {name: big-internal}
spec:
  conditions:
    - {variable: {eventData: value}, operator: greaterThan, value: 5}
    - {variable: {eventData: internal}, operator: equals, value: true}
    - {variable: {eventData: tier}, operator: in, values: [1, 2, gold]}
---
apiVersion: hermes.io/v1alpha1
kind: Tag
metadata: {name: typed}
spec:
  firingTriggers: [big-internal]
  topic: low-stock
  payload:
    fields:
      - {key: version, value: {constant: 2}, type: integer}
      - {key: test, value: {constant: false}, type: boolean}
---
apiVersion: hermes.io/v1alpha1
kind: LookupTable
metadata: {name: thresholds}
spec:
  input: {eventData: sku}
  rows:
    - {key: BOWL-10, value: 5}
  default: 0
";

#[tokio::test]
async fn kubectl_apply_refuses_two_sources_duplicate_keys_and_unknown_fields_explains_and_takes_unquoted_scalars()
 {
    let ns = namespace_with_crds("schema").await.unwrap();

    let (ok, stderr) = apply_yaml(&ns, TRIGGER_WITH_TWO_SOURCES).await;
    assert!(!ok, "two-source variable accepted");
    assert!(
        stderr.contains("spec.conditions.variable")
            && stderr.contains("should have at most 1 properties"),
        "{stderr}"
    );

    let (ok, stderr) = apply_yaml(&ns, TRIGGER_WITH_TWO_EVENT_FORMS).await;
    assert!(!ok, "event match with two forms accepted");
    assert!(stderr.contains("spec.event"), "{stderr}");

    let (ok, stderr) = apply_yaml(&ns, TAG_WITH_DUPLICATE_FIELD_KEYS).await;
    assert!(!ok, "duplicate payload field keys accepted");
    assert!(
        stderr.contains("spec.payload.fields[1]") && stderr.contains("Duplicate value"),
        "{stderr}"
    );

    // kubectl refuses unknown fields by validating against the API server's published
    // OpenAPI, which lags a CRD's Established condition (and without it kubectl 1.20
    // skips validation): wait until it lists the fields of all three kinds.
    wait_for(TIMEOUT, || async {
        for (path, field) in [
            ("tag.spec", "firingTriggers"),
            ("trigger.spec", "conditions"),
            ("lookuptable.spec", "matchType"),
        ] {
            match ns.kubectl(&["explain", path]).await {
                Ok(text) if text.contains(field) => {}
                other => return Err(format!("{path} not published yet: {other:?}")),
            }
        }
        Ok(())
    })
    .await
    .unwrap();
    let (ok, stderr) = apply_yaml(&ns, TAG_WITH_UNKNOWN_FIELD).await;
    assert!(!ok, "unknown field accepted");
    assert!(stderr.contains("unknown field \"toppic\""), "{stderr}");

    // `kubectl explain` tells the semantics a person needs (compared with its line
    // wrapping undone).
    let explain = |path: &'static str| {
        let ns = &ns;
        async move {
            let text = ns.kubectl(&["explain", path]).await.unwrap();
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let operator = explain("trigger.spec.conditions.operator").await;
    assert!(operator.contains("matches anywhere"), "{operator}");
    assert!(operator.contains("not a number"), "{operator}");
    let topic = explain("tag.spec.topic").await;
    assert!(topic.contains("hermes-settings"), "{topic}");
    let cookie = explain("tag.spec.attributes.value.cookie").await;
    assert!(cookie.contains("Only `ga4` hits"), "{cookie}");

    let (ok, stderr) = apply_yaml(&ns, UNQUOTED_SCALARS).await;
    assert!(ok, "unquoted scalars refused: {stderr}");
    let trigger = ns.api::<Trigger>().get("big-internal").await.unwrap();
    let values: Vec<serde_json::Value> = trigger
        .spec
        .conditions
        .iter()
        .filter_map(|c| c.value.as_ref().map(|v| v.0.clone()))
        .collect();
    assert_eq!(values, [json!(5), json!(true)]);
    let tag = ns.api::<Tag>().get("typed").await.unwrap();
    let fields = tag.spec.payload.fields.unwrap();
    assert_eq!(fields[0].value.constant.as_ref().unwrap().0, json!(2));
    let table = ns.api::<LookupTable>().get("thresholds").await.unwrap();
    assert_eq!(table.spec.rows[0].value.as_ref().unwrap().0, json!(5));
}

/// `kubectl get` output split into tables (one per kind), each a header and rows of
/// cells cut at the header's column offsets (kubectl aligns cells under their headers).
fn tables(output: &str) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    output
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut lines = block.lines().filter(|l| !l.trim().is_empty());
            let header = lines.next().unwrap_or_default();
            let mut starts: Vec<usize> = Vec::new();
            let mut previous = ' ';
            for (at, c) in header.char_indices() {
                if c != ' ' && previous == ' ' {
                    starts.push(at);
                }
                previous = c;
            }
            let cut = |line: &str| -> Vec<String> {
                starts
                    .iter()
                    .enumerate()
                    .map(|(i, &start)| {
                        let end = starts.get(i + 1).copied().unwrap_or(line.len());
                        line.get(start.min(line.len())..end.min(line.len()))
                            .unwrap_or_default()
                            .trim()
                            .to_string()
                    })
                    .collect()
            };
            (cut(header), lines.map(cut).collect())
        })
        .collect()
}

#[tokio::test]
async fn kubectl_get_hermes_shows_meaningful_columns_for_every_kind() {
    let ns = namespace_with_crds("columns").await.unwrap();
    let settings = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": SETTINGS_CONFIG_MAP},
        "data": {PROJECT_KEY: "shop-columns"},
    });
    let trigger = fixtures::trigger("adds").event_regex("^add_");
    let tag = fixtures::tag("adds")
        .topic("cart-activity")
        .field("sku", event_data("sku"));
    let table = fixtures::lookup_table("stock")
        .input(event_data("sku"))
        .row("BOWL-10", "5");
    ns.apply(&[&settings, &trigger, &tag, &table])
        .await
        .unwrap();
    let _operator = Operator::start(ns.client(), options(&ns, "op"));
    let _gateway = GatewayWatcher::start(ns.client(), &ns, "gw-0");
    let config = wait_config(&ns, |c| {
        c.tags
            .contains_key("adds")
            .then_some(())
            .ok_or_else(|| "tag not in config yet".to_string())
    })
    .await;
    // The bare topic took the namespace's project from the settings ConfigMap.
    assert_eq!(
        config.tags["adds"].topic,
        "projects/shop-columns/topics/cart-activity"
    );
    wait_ready::<Tag>(&ns, "adds", "True", "Live").await;
    wait_ready::<Trigger>(&ns, "adds", "True", "Live").await;
    wait_ready::<LookupTable>(&ns, "stock", "True", "Live").await;

    let output = ns.kubectl(&["get", "hermes"]).await.unwrap();
    let tables = tables(&output);
    assert_eq!(tables.len(), 3, "{output}");
    let find = |name: &str| {
        tables
            .iter()
            .find(|(_, rows)| rows.iter().any(|row| row[0] == name))
            .unwrap_or_else(|| panic!("no row {name} in:\n{output}"))
    };

    let (header, rows) = find("tag.hermes.io/adds");
    assert_eq!(
        *header,
        [
            "NAME",
            "READY",
            "TOPIC",
            "LIVE",
            "GENERATION",
            "REASON",
            "AGE"
        ],
        "{output}"
    );
    assert_eq!(
        rows[0][..6],
        [
            "tag.hermes.io/adds",
            "True",
            "cart-activity",
            "1",
            "1",
            "Live"
        ],
        "{output}"
    );

    let (header, rows) = find("trigger.hermes.io/adds");
    assert_eq!(
        *header,
        ["NAME", "READY", "EVENT", "CLIENT", "REASON", "AGE"],
        "{output}"
    );
    assert_eq!(
        rows[0][..5],
        [
            "trigger.hermes.io/adds",
            "True",
            r#"{"regex":"^add_"}"#,
            "",
            "Live"
        ],
        "{output}"
    );

    let (header, rows) = find("lookuptable.hermes.io/stock");
    assert_eq!(
        *header,
        ["NAME", "READY", "INPUT", "MATCH", "ROWS", "REASON", "AGE"],
        "{output}"
    );
    assert_eq!(
        rows[0][..6],
        [
            "lookuptable.hermes.io/stock",
            "True",
            r#"{"eventData":"sku"}"#,
            "exact",
            "1",
            "Live"
        ],
        "{output}"
    );

    // The short names reach each kind.
    for (short, name) in [
        ("htag", "tag.hermes.io/adds"),
        ("htrig", "trigger.hermes.io/adds"),
        ("hlt", "lookuptable.hermes.io/stock"),
    ] {
        let listed = ns.kubectl(&["get", short, "-o", "name"]).await.unwrap();
        assert_eq!(listed.trim(), name, "kubectl get {short}");
    }
}
