//! Regular expressions: checked here once so the gateway can compile them without failing.
//!
//! Why not `regex::Regex::new`: it builds every matching engine (one-pass DFA, full DFA
//! for small patterns, prefilters), which is most of a 10,000-Tag compile and is thrown
//! away here. [`check`] builds only what can fail, with the `regex` crate's own settings:
//! the pattern parsed with its syntax options, and the forward and reverse NFAs with its
//! size limit (`regex::RegexBuilder::size_limit`'s default). A pattern it accepts is one
//! `Regex::new` accepts, and its error message is the one `Regex::new` would give.
//!
//! Verdicts are remembered per pattern, process-wide ([`VERDICTS`]): whether a pattern
//! compiles never changes, and the operator compiles the whole namespace again on every
//! change, so a namespace of thousands of regexes pays for each once, not per change.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex_automata::MatchKind;
use regex_automata::meta::{self, BuildError};
use regex_automata::util::syntax;

/// `regex::RegexBuilder::size_limit`'s default: compiled patterns above it are refused.
const SIZE_LIMIT: usize = 10 * (1 << 20);

/// Patterns remembered at most; past it the memory starts over (a bound, not an LRU:
/// a namespace holds far fewer distinct patterns).
const VERDICTS_LIMIT: usize = 100_000;

/// What [`build`] said of each pattern seen.
static VERDICTS: LazyLock<Mutex<HashMap<String, Result<(), String>>>> =
    LazyLock::new(Mutex::default);

/// `^(?:pattern)$`: the whole input must match.
pub(crate) fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// The anchored form of `pattern` when both it and its anchored form compile (a `(?x)`
/// comment can swallow the closing anchor).
pub(crate) fn check_anchored(pattern: &str) -> Result<String, String> {
    check_syntax(pattern)?;
    let whole = anchored(pattern);
    match build(&whole) {
        Ok(()) => Ok(whole),
        Err(error) => Err(format!(
            "regex {pattern:?} cannot be anchored as {whole:?}: {}",
            cause(&error)
        )),
    }
}

/// `Ok(())` when `pattern` compiles; otherwise a one-line message naming it and the cause,
/// e.g. `regex "(" does not compile: unclosed group`.
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    build(pattern).map_err(|error| does_not_compile(pattern, &error))
}

/// Only the syntax of `pattern` (cheap): what [`check_anchored`] reports as "does not
/// compile" before it builds the anchored form.
fn check_syntax(pattern: &str) -> Result<(), String> {
    let parsed = regex_syntax::ParserBuilder::new()
        .utf8(true)
        .build()
        .parse(pattern);
    parsed.map(drop).map_err(|error| {
        format!(
            "regex {pattern:?} does not compile: {}",
            last_line(&error.to_string())
        )
    })
}

fn does_not_compile(pattern: &str, error: &str) -> String {
    format!("regex {pattern:?} does not compile: {}", cause(error))
}

/// [`build_uncached`], remembered in [`VERDICTS`].
fn build(pattern: &str) -> Result<(), String> {
    let remembered = VERDICTS
        .lock()
        .ok()
        .and_then(|verdicts| verdicts.get(pattern).cloned());
    if let Some(verdict) = remembered {
        return verdict;
    }
    let verdict = build_uncached(pattern);
    if let Ok(mut verdicts) = VERDICTS.lock() {
        if verdicts.len() >= VERDICTS_LIMIT {
            verdicts.clear();
        }
        verdicts.insert(pattern.to_string(), verdict.clone());
    }
    verdict
}

/// Build what `regex::Regex::new` builds that can fail; the error as `regex::Error`
/// displays it.
fn build_uncached(pattern: &str) -> Result<(), String> {
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(SIZE_LIMIT))
        .auto_prefilter(false)
        .onepass(false)
        .backtrack(false)
        .dfa(false);
    meta::Builder::new()
        .configure(config)
        .syntax(syntax::Config::new().utf8(true))
        .build(pattern)
        .map(drop)
        .map_err(|error| regex_error(&error))
}

/// What `regex::Error` would display for `error`.
fn regex_error(error: &BuildError) -> String {
    if let Some(limit) = error.size_limit() {
        format!("Compiled regex exceeds size limit of {limit} bytes.")
    } else if let Some(syntax) = error.syntax_error() {
        syntax.to_string()
    } else {
        error.to_string()
    }
}

/// The last line of the regex crate's (multi-line) error, without its `error: ` prefix.
fn cause(error: &str) -> String {
    last_line(error)
}

fn last_line(text: &str) -> String {
    let last = text.lines().rev().find(|line| !line.trim().is_empty());
    let line = last.unwrap_or(text).trim();
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
    fn accepts_and_refuses_what_the_regex_crate_does_with_its_message() {
        let patterns = [
            "promo_.*",
            "(",
            "a{1000}{1000}",
            r"\w{500}",
            "(?P<x>a)(?P<x>b)",
            r"\p{Greek}+",
            "[z-a]",
            "(?x)a # note",
        ];
        for pattern in patterns {
            let ours = build_uncached(pattern);
            assert_eq!(build(pattern), ours, "remembered verdict of {pattern}");
            assert_eq!(build(pattern), ours, "remembered verdict of {pattern}");
            let theirs = regex::Regex::new(pattern)
                .map(drop)
                .map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{pattern}");
        }
    }

    #[test]
    fn bad_pattern_message_is_one_line_naming_cause() {
        let message = check("(").unwrap_err();
        assert_eq!(message, "regex \"(\" does not compile: unclosed group");
    }
}
