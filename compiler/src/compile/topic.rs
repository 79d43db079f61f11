//! Pub/Sub topic names, checked with Pub/Sub's own rules so a publish never fails on them,
//! and resolved against the namespace's project.
//!
//! A Tag may name just its topic (`low-stock`); the GCP project then comes from one object
//! per namespace, the ConfigMap [`SETTINGS_CONFIG_MAP`] (key [`PROJECT_KEY`]). A ConfigMap
//! rather than a new kind or an operator flag: it is namespaced (dev, staging and prod
//! namespaces or clusters differ in one value), GitOps overlays patch it with one
//! `configMapGenerator` literal, `hermes lint` and `hermes test` read it from the same
//! manifests, and it needs no CRD. A full `projects/P/topics/T` is used as is.

use super::reason;

/// The ConfigMap holding a namespace's Hermes settings.
pub const SETTINGS_CONFIG_MAP: &str = "hermes-settings";
/// The key of [`SETTINGS_CONFIG_MAP`] holding the GCP project of topics named without one.
pub const PROJECT_KEY: &str = "project";

/// The namespace's project, from the ConfigMaps the compiler was given.
pub(crate) fn settings_project(
    config_maps: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) -> Option<&str> {
    config_maps
        .get(SETTINGS_CONFIG_MAP)
        .and_then(|data| data.get(PROJECT_KEY))
        .map(|project| project.trim())
        .filter(|project| !project.is_empty())
}

/// The full topic path for `topic` as a Tag writes it: as is when it names a project,
/// otherwise in `project`; or the reason and message of what is wrong.
pub(crate) fn resolve_topic(
    topic: &str,
    project: Option<&str>,
) -> Result<String, (&'static str, String)> {
    let full = if topic.contains('/') {
        topic.to_string()
    } else {
        let Some(project) = project else {
            return Err((
                reason::TOPIC_PROJECT_NOT_FOUND,
                format!(
                    "topic {topic:?} names no project and ConfigMap {SETTINGS_CONFIG_MAP:?} \
                     has no key {PROJECT_KEY:?}"
                ),
            ));
        };
        format!("projects/{project}/topics/{topic}")
    };
    check_topic(&full).map_err(|message| (reason::INVALID_TOPIC, message))?;
    Ok(full)
}

/// `Ok(())` for `projects/PROJECT/topics/TOPIC` with a valid project id and topic name;
/// otherwise what is wrong.
pub(crate) fn check_topic(topic: &str) -> Result<(), String> {
    let parts: Vec<&str> = topic.split('/').collect();
    let ["projects", project, "topics", name] = parts.as_slice() else {
        return Err(format!(
            "topic {topic:?} is not of the form projects/PROJECT/topics/TOPIC"
        ));
    };
    if !is_project_id(project) {
        return Err(format!(
            "topic {topic:?}: project id {project:?} must be 6 to 30 characters of a-z, 0-9 \
             and '-', start with a letter and not end with '-'"
        ));
    }
    if name.starts_with("goog") {
        return Err(format!(
            "topic {topic:?}: topic name {name:?} must not start with \"goog\""
        ));
    }
    if !is_topic_name(name) {
        return Err(format!(
            "topic {topic:?}: topic name {name:?} must be 3 to 255 characters of letters, \
             digits and -_.~+%, starting with a letter"
        ));
    }
    Ok(())
}

/// GCP project ids: 6–30 of `[a-z0-9-]`, a lowercase letter first, no trailing `-`.
fn is_project_id(id: &str) -> bool {
    (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Pub/Sub topic names: 3–255 of `[A-Za-z0-9-_.~+%]`, a letter first.
fn is_topic_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+%".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_topics_pass() {
        for good in [
            "projects/my-shop/topics/promotions",
            "projects/shop123/topics/low-stock.v1_~+%",
            "projects/abcdef/topics/Abc",
        ] {
            assert_eq!(check_topic(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn wrong_shape_is_refused_with_the_form() {
        for bad in [
            "promotions",
            "projects/my-shop/topics",
            "projects/my-shop/subscriptions/x",
            "projects/my-shop/topics/a/b",
            "/projects/my-shop/topics/abc",
        ] {
            let message = check_topic(bad).unwrap_err();
            assert!(
                message.contains("projects/PROJECT/topics/TOPIC"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn bad_project_ids_are_refused() {
        // 30 characters is the longest project id.
        let too_long = "a".repeat(31);
        let bad = ["short", "1shop-x", "Shop-xyz", "shop-xyz-", "shop_xyz"];
        for project in bad.into_iter().chain([too_long.as_str()]) {
            let topic = format!("projects/{project}/topics/orders");
            let message = check_topic(&topic).unwrap_err();
            assert!(message.contains("project id"), "{topic}: {message}");
        }
        let longest = "a".repeat(30);
        assert_eq!(
            check_topic(&format!("projects/{longest}/topics/abc")),
            Ok(())
        );
    }

    #[test]
    fn bad_topic_names_are_refused() {
        // 255 characters is the longest topic name.
        let too_long = "a".repeat(256);
        let bad = ["ab", "1abc", "-abc", "ab/c", "ab c", "abé"];
        for name in bad.into_iter().chain([too_long.as_str()]) {
            let topic = format!("projects/my-shop/topics/{name}");
            assert!(check_topic(&topic).is_err(), "{topic}");
        }
        let longest = "a".repeat(255);
        assert_eq!(
            check_topic(&format!("projects/my-shop/topics/{longest}")),
            Ok(())
        );
    }

    #[test]
    fn a_bare_topic_takes_the_namespace_project_and_a_full_path_keeps_its_own() {
        assert_eq!(
            resolve_topic("low-stock", Some("shop-dev")),
            Ok("projects/shop-dev/topics/low-stock".to_string())
        );
        assert_eq!(
            resolve_topic("projects/shop-prod/topics/low-stock", Some("shop-dev")),
            Ok("projects/shop-prod/topics/low-stock".to_string())
        );
        let (reason, message) = resolve_topic("low-stock", None).unwrap_err();
        assert_eq!(reason, reason::TOPIC_PROJECT_NOT_FOUND);
        assert!(message.contains("hermes-settings"), "{message}");
        let (reason, _) = resolve_topic("low-stock", Some("Bad_Project")).unwrap_err();
        assert_eq!(reason, reason::INVALID_TOPIC);
    }

    #[test]
    fn goog_prefix_is_refused() {
        let message = check_topic("projects/my-shop/topics/google-events").unwrap_err();
        assert!(
            message.contains("must not start with \"goog\""),
            "{message}"
        );
    }
}
