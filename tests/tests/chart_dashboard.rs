//! The chart's Grafana dashboard (`charts/hermes/dashboards/hermes.json`) queries only
//! metrics the binaries export. `docs/metrics.md` is the list of record: the dashboard may
//! query only what it lists, and everything a running `hermes-gateway` and
//! `hermes-operator` export (after real traffic) must be listed there, so a renamed metric
//! fails here rather than on a user's screen. (Labelled families appear in a scrape only
//! once they have a sample, which is why the scrape alone cannot be the list.)

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hermes_tests::TIMEOUT;
use hermes_tests::gateway_process::GatewayProcess;
use hermes_tests::product::{binary, examples_dir};
use hermes_tests::pubsub::{PubSubEmulator, SubscriptionOptions};
use hermes_tests::stack::{LOW_STOCK_HIT, cluster};
use hermes_tests::{Identity, free_port, wait_for};
use serde_json::Value;
use tokio::process::{Child, Command};

/// What the issue asks the dashboard to show, by panel title.
const REQUIRED_PANELS: [&str; 9] = [
    "Hits by client and outcome",
    "Tags fired",
    "Tags failed",
    "Publish latency",
    "Batch size",
    "Queue depth",
    "Config hash per replica",
    "Reconciles and errors",
    "Status patches and configs written",
];

fn repo_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dashboard() -> Value {
    serde_json::from_str(&repo_file("charts/hermes/dashboards/hermes.json"))
        .expect("dashboard is JSON")
}

/// Every `hermes_…` name in the dashboard's queries (panel targets and variables).
fn queried_metrics(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("expr" | "definition" | "query", Value::String(query)) => {
                        found.extend(metric_names(query));
                    }
                    _ => queried_metrics(item, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| queried_metrics(item, found)),
        _ => {}
    }
}

/// The `hermes_…` identifiers of a PromQL query, outside quoted label values.
fn metric_names(query: &str) -> Vec<String> {
    let mut quoted = false;
    let unquoted: String = query
        .chars()
        .map(|c| {
            if c == '"' {
                quoted = !quoted;
            }
            if quoted { ' ' } else { c }
        })
        .collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    unquoted
        .match_indices("hermes_")
        // A whole identifier, not the tail of a longer one.
        .filter(|(at, _)| !unquoted[..*at].chars().next_back().is_some_and(is_ident))
        .map(|(at, _)| {
            unquoted[at..]
                .chars()
                .take_while(|c| is_ident(*c))
                .collect()
        })
        .collect()
}

/// The series a metric family of `kind` is exported as.
fn series(family: &str, kind: &str) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        "counter" => &["_total"],
        "histogram" => &["_bucket", "_sum", "_count"],
        "info" => &["_info"],
        _ => &[""],
    };
    suffixes
        .iter()
        .map(|suffix| format!("{family}{suffix}"))
        .collect()
}

/// The series a Prometheus text/OpenMetrics page exports, from its `# TYPE` lines.
fn exported_series(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let mut parts = rest.split_whitespace();
            Some(series(parts.next()?, parts.next()?))
        })
        .flatten()
        .collect()
}

/// The series `docs/metrics.md` lists: its table rows `| `name` | type | labels | meaning |`.
fn documented_series() -> BTreeSet<String> {
    repo_file("docs/metrics.md")
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').skip(1).map(str::trim);
            let name = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            let kind = cells.next()?;
            let family = match kind {
                "counter" => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            Some(series(family, kind))
        })
        .flatten()
        .collect()
}

fn spawn(mut command: Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts")
}

/// GET `url` until it answers 2xx; its body.
async fn get_when_ok(http: &reqwest::Client, url: &str) -> String {
    wait_for(TIMEOUT, || async {
        let response = http.get(url).send().await?;
        response.error_for_status()?.text().await
    })
    .await
    .unwrap_or_else(|e| panic!("{url} answers: {e}"))
}

#[test]
fn the_dashboard_queries_only_documented_metrics_and_shows_what_operators_need() {
    let documented = documented_series();
    assert!(
        documented.len() >= 20,
        "docs/metrics.md lists: {documented:?}"
    );
    let dashboard = dashboard();
    let mut queried = BTreeSet::new();
    queried_metrics(&dashboard, &mut queried);
    assert!(queried.len() >= 15, "the dashboard queries: {queried:?}");
    let unknown: Vec<&String> = queried.difference(&documented).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics docs/metrics.md does not list: {unknown:?}"
    );

    let titles: BTreeSet<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|panel| panel["title"].as_str())
        .collect();
    for title in REQUIRED_PANELS {
        assert!(titles.contains(title), "panel {title:?} in {titles:?}");
    }
}

#[tokio::test]
async fn every_metric_the_running_binaries_export_is_documented() {
    let cluster = cluster().await;
    let ns = cluster.namespace("dashboard").await.expect("namespace");
    let http = reqwest::Client::new();
    let emulator = PubSubEmulator::start().await.expect("emulator starts");
    let topic = "projects/hermes-local/topics/low-stock";
    let subscription = "projects/hermes-local/subscriptions/low-stock-dashboard";
    emulator.create_topic(topic).await.unwrap();
    emulator
        .create_subscription(subscription, topic, SubscriptionOptions::default())
        .await
        .unwrap();

    let gateway = GatewayProcess::builder()
        .examples()
        .pubsub(emulator.host_port())
        .start()
        .await
        .expect("the gateway becomes ready");
    let gateway_url = gateway.url();

    let operator_port = free_port().unwrap();
    let mut operator = Command::new(binary("hermes-operator").expect("hermes-operator is built"));
    operator
        .args(["--namespace", ns.name(), "--no-leader-election"])
        .args(["--metrics-addr", &format!("127.0.0.1:{operator_port}")])
        .env("KUBECONFIG", cluster.kubeconfig_for(Identity::Operator));
    let _operator = spawn(operator);

    // Traffic, so the labelled families have samples: a hit that fires and publishes,
    // and resources the operator compiles, writes and reports on.
    let hit = http
        .get(format!("{gateway_url}{LOW_STOCK_HIT}"))
        .send()
        .await
        .unwrap();
    assert_eq!(hit.status(), 204);
    let published = emulator
        .pull(subscription, 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(published.len(), 1, "the hit is published");
    ns.kubectl(&["apply", "-f", examples_dir().to_str().unwrap()])
        .await
        .expect("examples apply");
    wait_for(TIMEOUT, || {
        ns.kubectl(&["get", "configmap/hermes-gateway-config"])
    })
    .await
    .expect("the operator writes the config");

    let gateway_page = get_when_ok(&http, &format!("{gateway_url}/metrics")).await;
    let operator_page =
        get_when_ok(&http, &format!("http://127.0.0.1:{operator_port}/metrics")).await;
    let documented = documented_series();
    for (component, page) in [("gateway", gateway_page), ("operator", operator_page)] {
        let exported = exported_series(&page);
        assert!(
            exported.len() >= 8,
            "the {component} exports its metrics after traffic: {exported:?}"
        );
        let undocumented: Vec<&String> = exported.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "the {component} exports metrics docs/metrics.md does not list: {undocumented:?}"
        );
    }
}

#[test]
fn metric_names_are_whole_identifiers() {
    assert_eq!(
        metric_names(
            r#"sum(rate(hermes_a_total{x="hermes_not"}[5m])) / my_hermes_b + hermes_c_bucket"#
        ),
        ["hermes_a_total", "hermes_c_bucket"]
    );
    let page = "# TYPE hermes_hits counter\n# TYPE hermes_lat_seconds histogram\n# TYPE hermes_q gauge\n# HELP hermes_q Queue\n";
    assert_eq!(
        exported_series(page).into_iter().collect::<Vec<_>>(),
        [
            "hermes_hits_total",
            "hermes_lat_seconds_bucket",
            "hermes_lat_seconds_count",
            "hermes_lat_seconds_sum",
            "hermes_q"
        ]
    );
}
