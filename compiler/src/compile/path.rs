//! Event-data paths: `sku`, `x-ga-mp2-user_properties.tier`, `items.0.item_id`,
//! `items[0].item_id`, `items[*].item_id`.
//!
//! Dot-separated keys, each optionally followed by `[N]` (an index) or `[*]` (every
//! element). A numeric key stays a key (`items.0` → `Key("0")`): the gateway indexes arrays
//! with it as sGTM does.

use crate::config::PathSegment;

/// Parse a path, or say what is wrong with it.
pub(crate) fn parse_path(path: &str) -> Result<Vec<PathSegment>, String> {
    if path.is_empty() {
        return Err("path is empty".to_string());
    }
    let mut segments = Vec::new();
    for part in path.split('.') {
        parse_part(path, part, &mut segments)?;
    }
    Ok(segments)
}

/// One dot-separated part: a key, then any number of `[N]` / `[*]`.
fn parse_part(path: &str, part: &str, segments: &mut Vec<PathSegment>) -> Result<(), String> {
    let (key, mut rest) = match part.find('[') {
        Some(at) => part.split_at(at),
        None => (part, ""),
    };
    if key.is_empty() {
        return Err(format!("path {path:?} has an empty segment"));
    }
    if key.contains(']') {
        return Err(format!("path {path:?} has an unmatched ']'"));
    }
    segments.push(PathSegment::Key(key.to_string()));
    while !rest.is_empty() {
        let Some(inner_end) = rest.find(']') else {
            return Err(format!("path {path:?} has an unclosed '['"));
        };
        let inner = &rest[1..inner_end];
        segments.push(parse_bracket(path, inner)?);
        rest = &rest[inner_end + 1..];
        if !rest.is_empty() && !rest.starts_with('[') {
            return Err(format!(
                "path {path:?}: expected '.' or '[' after ']', found {rest:?}"
            ));
        }
    }
    Ok(())
}

/// The inside of `[…]`: `*` or a non-negative integer.
fn parse_bracket(path: &str, inner: &str) -> Result<PathSegment, String> {
    if inner == "*" {
        return Ok(PathSegment::Each);
    }
    if !inner.is_empty()
        && inner.bytes().all(|b| b.is_ascii_digit())
        && let Ok(index) = inner.parse::<usize>()
    {
        return Ok(PathSegment::Index(index));
    }
    Err(format!(
        "path {path:?}: [{inner}] is neither an index nor [*]"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PathSegment::{Each, Index, Key};

    fn key(k: &str) -> PathSegment {
        Key(k.to_string())
    }

    #[test]
    fn plain_key_is_one_segment() {
        assert_eq!(parse_path("sku"), Ok(vec![key("sku")]));
    }

    #[test]
    fn dashed_keys_and_dots_split_into_keys() {
        assert_eq!(
            parse_path("x-ga-mp2-user_properties.tier"),
            Ok(vec![key("x-ga-mp2-user_properties"), key("tier")])
        );
    }

    #[test]
    fn numeric_dot_segment_stays_a_key() {
        assert_eq!(
            parse_path("items.0.item_id"),
            Ok(vec![key("items"), key("0"), key("item_id")])
        );
    }

    #[test]
    fn brackets_give_index_and_each() {
        assert_eq!(
            parse_path("items[*].item_id"),
            Ok(vec![key("items"), Each, key("item_id")])
        );
        assert_eq!(
            parse_path("items[2].item_id"),
            Ok(vec![key("items"), Index(2), key("item_id")])
        );
        assert_eq!(
            parse_path("grid[1][*]"),
            Ok(vec![key("grid"), Index(1), Each])
        );
    }

    #[test]
    fn empty_segments_are_errors() {
        for bad in ["", ".a", "a.", "a..b", "[0]", "a.[0]"] {
            assert!(parse_path(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            parse_path("a..b"),
            Err("path \"a..b\" has an empty segment".to_string())
        );
    }

    #[test]
    fn malformed_brackets_are_errors() {
        for bad in [
            "a[",
            "a[1",
            "a[]",
            "a[x]",
            "a[-1]",
            "a]",
            "a[1]b",
            "a[99999999999999999999999]",
        ] {
            assert!(parse_path(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
