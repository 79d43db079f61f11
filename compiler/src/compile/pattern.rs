//! Regular expressions: checked here once so the gateway can compile them without failing.

use regex::Regex;

/// `^(?:pattern)$`: the whole input must match.
pub(crate) fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// The anchored form of `pattern` when both it and its anchored form compile (a `(?x)`
/// comment can swallow the closing anchor).
pub(crate) fn check_anchored(pattern: &str) -> Result<String, String> {
    check(pattern)?;
    let whole = anchored(pattern);
    match Regex::new(&whole) {
        Ok(_) => Ok(whole),
        Err(error) => Err(format!(
            "regex {pattern:?} cannot be anchored as {whole:?}: {}",
            cause(&error)
        )),
    }
}

/// `Ok(())` when `pattern` compiles; otherwise a one-line message naming it and the cause,
/// e.g. `regex "(" does not compile: unclosed group`.
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    match Regex::new(pattern) {
        Ok(_) => Ok(()),
        Err(error) => Err(format!(
            "regex {pattern:?} does not compile: {}",
            cause(&error)
        )),
    }
}

/// The last line of the regex crate's (multi-line) error, without its `error: ` prefix.
fn cause(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().rev().find(|line| !line.trim().is_empty());
    let line = last.unwrap_or(text.as_str()).trim();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchoring_wraps_the_whole_pattern() {
        assert_eq!(anchored("a|b"), "^(?:a|b)$");
    }

    #[test]
    fn check_anchored_returns_the_anchored_pattern() {
        assert_eq!(check_anchored("promo_.*"), Ok("^(?:promo_.*)$".to_string()));
    }

    #[test]
    fn comment_that_swallows_the_anchor_is_refused() {
        let message = check_anchored("(?x)a # note").unwrap_err();
        assert!(message.contains("cannot be anchored"), "{message}");
    }

    #[test]
    fn good_patterns_pass() {
        assert_eq!(check("^promo_[0-9]+$"), Ok(()));
    }

    #[test]
    fn bad_pattern_message_is_one_line_naming_cause() {
        let message = check("(").unwrap_err();
        assert_eq!(message, "regex \"(\" does not compile: unclosed group");
    }
}
