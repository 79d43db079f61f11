//! The shipped examples lint clean, and each broken example yields exactly the one lint
//! line its first comment (`# expect: …`) promises.

use std::path::{Path, PathBuf};

use hermes_compiler::{compile, manifest};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Lint lines with the paths made relative to the repository root, as a user running
/// `hermes lint examples …` from there sees them.
fn lint(paths: &[PathBuf]) -> Vec<String> {
    let prefix = format!("{}/", root().display());
    manifest::lint(paths)
        .unwrap()
        .into_iter()
        .map(|line| line.replace(&prefix, ""))
        .collect()
}

fn broken_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples/broken"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

fn expected_line(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{} must start with `# expect: <lint line>`", file.display()))
        .to_string()
}

#[test]
fn the_examples_folder_lints_clean() {
    assert_eq!(lint(&[root().join("examples")]), Vec::<String>::new());
}

#[test]
fn each_broken_example_yields_exactly_its_expected_line() {
    let mut failures = Vec::new();
    for file in broken_files() {
        let expected = expected_line(&file);
        let found = lint(&[root().join("examples"), file.clone()]);
        if found != [expected.clone()] {
            failures.push(format!(
                "{}\n  expected: {expected}\n  found:    {found:#?}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn broken_examples_cover_many_distinct_defects_one_line_each() {
    let files = broken_files();
    assert!(files.len() >= 14, "only {} broken examples", files.len());
    let mut expected: Vec<String> = files.iter().map(|file| expected_line(file)).collect();
    expected.sort();
    let all = lint(&[root().join("examples"), root().join("examples/broken")]);
    assert_eq!(all, expected, "linting all broken examples at once");
    let messages: std::collections::BTreeSet<&str> = expected
        .iter()
        .map(|line| line.rsplit(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        messages.len(),
        expected.len(),
        "two broken examples share a message"
    );
}

#[test]
fn the_examples_compile_to_the_documented_tags() {
    let loaded = manifest::load_paths(&[root().join("examples")]).unwrap();
    let config = loaded.compile("hermes-local").config;
    let tags: Vec<&str> = config.tags.keys().map(String::as_str).collect();
    assert_eq!(
        tags,
        [
            "cart-activity",
            "low-stock-items",
            "low-stock-signal",
            "promotion-used",
            "shop-purchases"
        ]
    );
    assert_eq!(config.tags_by_event["LowStock"], ["low-stock-signal"]);
    assert_eq!(
        config.tags_by_event["purchase"],
        ["low-stock-items", "promotion-used", "shop-purchases"]
    );
    for tag in config.tags.values() {
        assert!(
            tag.topic.starts_with("projects/hermes-local/topics/"),
            "{}",
            tag.topic
        );
    }
    assert!(config.tags["promotion-used"].per_item.is_some());
    assert_eq!(
        config.tags["shop-purchases"].blocking_triggers,
        ["internal-traffic"]
    );
    assert!(config.tags["cart-activity"].require_analytics_storage);
}

#[test]
fn the_examples_run_in_another_project_by_changing_only_the_settings_config_map() {
    let mut loaded = manifest::load_paths(&[root().join("examples")]).unwrap();
    let topics = |loaded: &manifest::LoadedManifests| {
        let output = loaded.compile("shop");
        assert_eq!(output.diagnostics, vec![]);
        output
            .config
            .tags
            .into_iter()
            .map(|(name, tag)| (name, tag.topic))
            .collect::<Vec<_>>()
    };
    let local = topics(&loaded);
    assert!(
        local
            .iter()
            .all(|(_, topic)| topic.starts_with("projects/hermes-local/topics/")),
        "{local:?}"
    );
    loaded
        .resources
        .config_maps
        .get_mut(compile::SETTINGS_CONFIG_MAP)
        .unwrap()
        .insert(compile::PROJECT_KEY.into(), "shop-prod-4711".into());
    let prod = topics(&loaded);
    assert_eq!(prod.len(), local.len());
    for ((name, local_topic), (prod_name, prod_topic)) in local.iter().zip(&prod) {
        assert_eq!(name, prod_name);
        assert_eq!(
            prod_topic,
            &local_topic.replace("projects/hermes-local/", "projects/shop-prod-4711/"),
        );
    }
}

#[test]
fn unquoted_numbers_and_booleans_compile_as_their_text() {
    let loaded = manifest::load_paths(&[root().join("examples")]).unwrap();
    let config = loaded.compile("shop").config;
    let thresholds: Vec<&serde_json::Value> = config.lookup_tables["low-stock-skus"]
        .rows
        .iter()
        .map(|row| &row.value)
        .collect();
    assert!(
        thresholds.contains(&&serde_json::json!("5")),
        "{thresholds:?}"
    );
    let internal = serde_json::to_string(&config.triggers["internal-traffic"]).unwrap();
    assert!(internal.contains(r#""value":"true""#), "{internal}");
}
