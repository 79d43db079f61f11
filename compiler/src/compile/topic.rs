//! Pub/Sub topic names, checked with Pub/Sub's own rules so a publish never fails on them.

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
    fn goog_prefix_is_refused() {
        let message = check_topic("projects/my-shop/topics/google-events").unwrap_err();
        assert!(
            message.contains("must not start with \"goog\""),
            "{message}"
        );
    }
}
