//! Consent mode signals of a gtag hit (`gcs`, `gcd`) decoded into the state a trigger can
//! test: `{ad_storage, analytics_storage, ad_user_data, ad_personalization}`, each
//! `"granted"` or `"denied"`, absent when the hit does not say.
//!
//! `gcs` is `G1<ad_storage><analytics_storage>` with `1` granted, `0` denied, `-` unset.
//!
//! `gcd` (consent mode v2) is `1<n>` then one letter per signal in the order ad_storage,
//! analytics_storage, ad_user_data, ad_personalization, separated by digits, e.g.
//! `13r3r3r3r5` or `11p1p1p1p5`; the digits carry no consent state. Letters, as public
//! write-ups of the format (Baersch/Ahava, 2024) decode them:
//!
//! | letter | default | update | state |
//! |---|---|---|---|
//! | `l` | – | – | not set |
//! | `p` | denied | – | denied |
//! | `q` | denied | denied | denied |
//! | `t` | granted | – | granted |
//! | `r` | denied | granted | granted |
//! | `m` | – | denied | denied |
//! | `n` | – | granted | granted |
//! | `u` | granted | denied | denied |
//! | `v` | granted | granted | granted |
//!
//! When both are present, `gcs` wins for the two storage signals (it is the state at the
//! time of the hit); `gcd` alone gives all four.

use serde_json::{Map, Value};

const SIGNALS: [&str; 4] = [
    "ad_storage",
    "analytics_storage",
    "ad_user_data",
    "ad_personalization",
];

/// Decoded consent state; `None` for a signal the hit does not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConsentState([Option<bool>; 4]);

impl ConsentState {
    /// Fold in a `gcd` value (all four signals).
    pub(crate) fn apply_gcd(&mut self, gcd: &str) {
        let letters = gcd
            .get(2..)
            .unwrap_or("")
            .bytes()
            .filter(u8::is_ascii_alphabetic);
        for (slot, letter) in self.0.iter_mut().zip(letters) {
            if let Some(granted) = gcd_letter(letter) {
                *slot = Some(granted);
            }
        }
    }

    /// Fold in a `gcs` value (ad and analytics storage), overriding `gcd` for those two.
    pub(crate) fn apply_gcs(&mut self, gcs: &str) {
        let Some(flags) = gcs.strip_prefix("G1") else {
            return;
        };
        for (slot, flag) in self.0.iter_mut().zip(flags.bytes().take(2)) {
            match flag {
                b'1' => *slot = Some(true),
                b'0' => *slot = Some(false),
                _ => {}
            }
        }
    }

    /// The event-data object, or `None` when no signal is set.
    pub(crate) fn to_value(self) -> Option<Value> {
        let mut object = Map::new();
        for (name, state) in SIGNALS.iter().zip(self.0) {
            if let Some(granted) = state {
                let word = if granted { "granted" } else { "denied" };
                object.insert((*name).to_string(), Value::String(word.to_string()));
            }
        }
        (!object.is_empty()).then_some(Value::Object(object))
    }
}

/// The final state a `gcd` letter encodes: `Some(true)` granted, `Some(false)` denied,
/// `None` not set (or a letter this table does not know).
fn gcd_letter(letter: u8) -> Option<bool> {
    match letter {
        b't' | b'r' | b'n' | b'v' => Some(true),
        b'p' | b'q' | b'm' | b'u' => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(gcs: Option<&str>, gcd: Option<&str>) -> Option<Value> {
        let mut state = ConsentState::default();
        if let Some(gcd) = gcd {
            state.apply_gcd(gcd);
        }
        if let Some(gcs) = gcs {
            state.apply_gcs(gcs);
        }
        state.to_value()
    }

    #[test]
    fn gcs_sets_ad_and_analytics_storage() {
        assert_eq!(
            decode(Some("G101"), None),
            Some(json!({"ad_storage": "denied", "analytics_storage": "granted"}))
        );
        assert_eq!(
            decode(Some("G1-1"), None),
            Some(json!({"analytics_storage": "granted"}))
        );
        assert_eq!(decode(Some("G1--"), None), None);
        assert_eq!(decode(Some("garbage"), None), None);
    }

    #[test]
    fn gcd_letters_decode_to_final_state() {
        // ad_storage denied by default, analytics granted by default,
        // ad_user_data denied then granted, ad_personalization granted then denied
        assert_eq!(
            decode(None, Some("13p3t3r3u5")),
            Some(json!({
                "ad_storage": "denied",
                "analytics_storage": "granted",
                "ad_user_data": "granted",
                "ad_personalization": "denied"
            }))
        );
        assert_eq!(
            decode(None, Some("11q1v1m1n5")),
            Some(json!({
                "ad_storage": "denied",
                "analytics_storage": "granted",
                "ad_user_data": "denied",
                "ad_personalization": "granted"
            }))
        );
    }

    #[test]
    fn gcd_unset_signals_are_absent() {
        assert_eq!(decode(None, Some("13l3l3l3l1")), None);
        assert_eq!(
            decode(None, Some("13l3v3l3l1")),
            Some(json!({"analytics_storage": "granted"}))
        );
        assert_eq!(decode(None, Some("")), None);
    }

    #[test]
    fn gcs_wins_over_gcd_for_storage_signals() {
        assert_eq!(
            decode(Some("G100"), Some("13v3v3v3v5")),
            Some(json!({
                "ad_storage": "denied",
                "analytics_storage": "denied",
                "ad_user_data": "granted",
                "ad_personalization": "granted"
            }))
        );
    }
}
