//! User-agent client hints of a gtag hit (`uaa`, `uab`, `uafvl`, `uamb`, `uam`, `uap`,
//! `uapv`, `uaw`) into sGTM's `client_hints` object.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

/// The `client_hints` key for a hint parameter, or `None` when `key` is not one.
pub(crate) fn hint_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "uaa" => "architecture",
        "uab" => "bitness",
        "uafvl" => "full_version_list",
        "uamb" => "mobile",
        "uam" => "model",
        "uap" => "platform",
        "uapv" => "platform_version",
        "uaw" => "wow64",
        _ => return None,
    })
}

/// Add one hint to the `client_hints` object.
pub(crate) fn add_hint(hints: &mut Map<String, Value>, name: &'static str, value: &str) {
    let value = match name {
        "mobile" | "wow64" => Value::Bool(value == "1" || value == "true"),
        "full_version_list" => full_version_list(value),
        _ => Value::String(value.to_string()),
    };
    hints.insert(name.to_string(), value);
}

/// `uafvl` is `brand;version` pairs joined by `|`, each part percent-encoded once more
/// (`Google%20Chrome;122.0.6261.94|Not(A%3ABrand;24.0.0.0`).
fn full_version_list(value: &str) -> Value {
    let list = value
        .split('|')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (brand, version) = entry.split_once(';').unwrap_or((entry, ""));
            json!({
                "brand": percent_decode_str(brand).decode_utf8_lossy(),
                "version": percent_decode_str(version).decode_utf8_lossy(),
            })
        })
        .collect();
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_become_typed_client_hints() {
        let mut hints = Map::new();
        for (key, value) in [
            ("uaa", "x86"),
            ("uab", "64"),
            (
                "uafvl",
                "Chromium;122.0.6261.94|Not(A%3ABrand;24.0.0.0|Google%20Chrome;122.0.6261.94",
            ),
            ("uamb", "0"),
            ("uam", ""),
            ("uap", "Windows"),
            ("uapv", "15.0.0"),
            ("uaw", "1"),
        ] {
            add_hint(&mut hints, hint_key(key).unwrap(), value);
        }
        assert_eq!(
            Value::Object(hints),
            json!({
                "architecture": "x86",
                "bitness": "64",
                "full_version_list": [
                    {"brand": "Chromium", "version": "122.0.6261.94"},
                    {"brand": "Not(A:Brand", "version": "24.0.0.0"},
                    {"brand": "Google Chrome", "version": "122.0.6261.94"}
                ],
                "mobile": false,
                "model": "",
                "platform": "Windows",
                "platform_version": "15.0.0",
                "wow64": true
            })
        );
        assert_eq!(hint_key("ua"), None);
    }
}
