//! Ecommerce items of a gtag hit: `pr1`…`prN`, each `~`-separated tokens of a two-letter
//! key and its value (`idSKU1~nmBlazer~pr150~qt1~k0color~v0blue`), into GA4 item objects.

use serde_json::{Map, Value};

use crate::collect::number_or_string;

/// The item index of a `prN` parameter name (`pr1` → 1), or `None` for other names.
pub(crate) fn item_index(key: &[u8]) -> Option<usize> {
    let digits = key.strip_prefix(b"pr")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse::<usize>()
        .ok()
        .filter(|&n| n >= 1)
}

/// A GA4 item from one `prN` value. Known keys get GA4 names (`price`, `quantity`,
/// `discount` and `index` as numbers); `k<d>`/`v<d>` pairs become custom item parameters;
/// a token with an unknown key is kept under that key.
pub(crate) fn parse_item(value: &str) -> Value {
    // Sized once for its tokens (a custom parameter takes two): growing the map rehashed
    // every key twice for a typical item.
    let mut item = Map::with_capacity(memchr::memchr_iter(b'~', value.as_bytes()).count() + 1);
    // Custom parameters: names and values arrive as separate tokens (k0…k9, v0…v9).
    let mut custom_names: [Option<&str>; 10] = [None; 10];
    let mut custom_values: [Option<&str>; 10] = [None; 10];
    for token in value.split('~') {
        let Some((key, text)) = split_token(token) else {
            continue;
        };
        if let Some(slot) = custom_slot(key, b'k') {
            custom_names[slot] = Some(text);
            continue;
        }
        if let Some(slot) = custom_slot(key, b'v') {
            custom_values[slot] = Some(text);
            continue;
        }
        let value = match key {
            "pr" | "qt" | "ds" | "lp" => number_or_string(text),
            _ => Value::String(text.to_string()),
        };
        item.insert(item_key(key).to_string(), value);
    }
    for (name, value) in custom_names.iter().zip(custom_values) {
        if let (Some(name), Some(value)) = (name, value)
            && !name.is_empty()
        {
            item.insert((*name).to_string(), Value::String(value.to_string()));
        }
    }
    Value::Object(item)
}

/// A token's two-byte key and its value; `None` for tokens too short to have a key.
fn split_token(token: &str) -> Option<(&str, &str)> {
    if token.len() < 2 || !token.is_char_boundary(2) {
        return None;
    }
    Some(token.split_at(2))
}

/// The custom-parameter slot of a `k<d>` / `v<d>` key.
fn custom_slot(key: &str, letter: u8) -> Option<usize> {
    match key.as_bytes() {
        [first, digit] if *first == letter && digit.is_ascii_digit() => {
            Some(usize::from(digit - b'0'))
        }
        _ => None,
    }
}

/// GA4's item key for a gtag token key; unknown keys stay as they are.
fn item_key(key: &str) -> &str {
    match key {
        "id" => "item_id",
        "nm" => "item_name",
        "br" => "item_brand",
        "ca" => "item_category",
        "c2" => "item_category2",
        "c3" => "item_category3",
        "c4" => "item_category4",
        "c5" => "item_category5",
        "va" => "item_variant",
        "pr" => "price",
        "qt" => "quantity",
        "cp" => "coupon",
        "ds" => "discount",
        "af" => "affiliation",
        "lp" => "index",
        "ln" => "item_list_name",
        "li" => "item_list_id",
        "lo" => "location_id",
        "cn" => "creative_name",
        "cs" => "creative_slot",
        "pi" => "promotion_id",
        "pn" => "promotion_name",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_index_reads_pr_numbers_only() {
        assert_eq!(item_index(b"pr1"), Some(1));
        assert_eq!(item_index(b"pr200"), Some(200));
        assert_eq!(item_index(b"pr007"), Some(7));
        assert_eq!(item_index(b"pr0"), None);
        assert_eq!(item_index(b"pr"), None);
        assert_eq!(item_index(b"prx"), None);
        assert_eq!(item_index(b"pr+1"), None);
        assert_eq!(item_index(b"pr1x"), None);
        assert_eq!(item_index(b"ep.pr1"), None);
        // Too large for a usize: not an item index, as `parse` would have it.
        assert_eq!(item_index(b"pr99999999999999999999999"), None);
    }

    #[test]
    fn every_item_key_maps_to_its_ga4_name() {
        let item = parse_item(
            "idSKU_12345~nmStan and Friends Tee~afGoogle Merchandise Store~cpSUMMER_FUN~ds2.22\
             ~lp0~brGoogle~caApparel~c2Adult~c3Shirts~c4Crew~c5Short sleeve~lirelated_products\
             ~lnRelated Products~vagreen~loChIJIQBpAG2ahYAR_6128GcTUEo~pr10.01~qt3\
             ~cnsummer_banner2~csfeatured_app_1~piP_12345~pnSummer Sale",
        );
        assert_eq!(
            item,
            json!({
                "item_id": "SKU_12345",
                "item_name": "Stan and Friends Tee",
                "affiliation": "Google Merchandise Store",
                "coupon": "SUMMER_FUN",
                "discount": 2.22,
                "index": 0,
                "item_brand": "Google",
                "item_category": "Apparel",
                "item_category2": "Adult",
                "item_category3": "Shirts",
                "item_category4": "Crew",
                "item_category5": "Short sleeve",
                "item_list_id": "related_products",
                "item_list_name": "Related Products",
                "item_variant": "green",
                "location_id": "ChIJIQBpAG2ahYAR_6128GcTUEo",
                "price": 10.01,
                "quantity": 3,
                "creative_name": "summer_banner2",
                "creative_slot": "featured_app_1",
                "promotion_id": "P_12345",
                "promotion_name": "Summer Sale"
            })
        );
    }

    #[test]
    fn custom_item_parameters_pair_k_and_v_by_digit() {
        let item = parse_item("idSKU1~nmBlazer~pr150~qt1~k0color~v0blue~k1size~k2fit~v2slim~v1M");
        assert_eq!(
            item,
            json!({
                "item_id": "SKU1",
                "item_name": "Blazer",
                "price": 150,
                "quantity": 1,
                "color": "blue",
                "size": "M",
                "fit": "slim"
            })
        );
    }

    #[test]
    fn odd_tokens_are_skipped_or_kept_verbatim() {
        let item = parse_item("idA~~x~zzmystery~k3orphan~prcheap");
        assert_eq!(
            item,
            json!({"item_id": "A", "zz": "mystery", "price": "cheap"})
        );
        // A multibyte character straddling the key boundary is skipped, not a panic.
        assert_eq!(parse_item("aéb~idB"), json!({"item_id": "B"}));
    }
}
