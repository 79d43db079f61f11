//! `/g/collect` parsing against real-looking gtag.js hits.

use std::net::IpAddr;

use hermes_crds::api::ClientKind;
use serde_json::{Value, json};

use super::parse_ga4;
use crate::collect::{CollectError, Limits};
use crate::event::{CONSENT_KEY, Event, RequestInfo};

fn request() -> RequestInfo {
    RequestInfo {
        method: "POST".into(),
        path: "/g/collect".into(),
        client_ip: Some("198.51.100.23".parse::<IpAddr>().unwrap()),
        headers: [(
            "user-agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/122.0.0.0 Safari/537.36",
        )]
        .into_iter()
        .collect(),
        ..RequestInfo::default()
    }
}

fn parse(query: &str, body: &str) -> Vec<Event> {
    parse_ga4(query, body.as_bytes(), &request(), &Limits::default()).unwrap()
}

fn parse_one(query: &str) -> Value {
    let events = parse(query, "");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].client, ClientKind::Ga4);
    crate::event::event_data_value(&events[0].data)
}

/// A page_view as gtag.js 2024 sends it to a server container, consent mode v2 on.
const PAGE_VIEW: &str = "v=2&tid=G-8XYZ12345&gtm=45je4ca0v9123456789za200&_p=1718000000123\
    &gcs=G101&gcd=13r3r3r3r5l1&npa=0&dma=1&dma_cps=syphamo&cid=1234567890.1718000000\
    &ul=en-us&sr=1920x1080&uaa=x86&uab=64\
    &uafvl=Chromium%3B122.0.6261.94%7CNot(A%253ABrand%3B24.0.0.0%7CGoogle%2520Chrome%3B122.0.6261.94\
    &uamb=0&uam=&uap=Windows&uapv=15.0.0&uaw=0&are=1&frm=0&pscdl=noapi&_eu=AEA&_s=1\
    &sid=1718000000&sct=3&seg=1\
    &dl=https%3A%2F%2Fshop.example.com%2Fbowls%3Futm_source%3Dnewsletter\
    &dr=https%3A%2F%2Fwww.google.com%2F&dt=Dog%20Bowls%20%7C%20Example%20Shop\
    &en=page_view&_fv=1&_nsi=1&_ss=1&_ee=1&tfd=1234&richsstsse";

#[test]
fn page_view_maps_every_parameter_to_sgtm_event_data() {
    let data = parse_one(PAGE_VIEW);
    assert_eq!(
        data,
        json!({
            "event_name": "page_view",
            "x-ga-protocol_version": "2",
            "x-ga-measurement_id": "G-8XYZ12345",
            "x-ga-gtm_version": "45je4ca0v9123456789za200",
            "x-ga-page_id": 1718000000123_i64,
            "x-ga-gcs": "G101",
            "x-ga-gcd": "13r3r3r3r5l1",
            "x-ga-npa": "0",
            "x-ga-dma": "1",
            "x-ga-dma_cps": "syphamo",
            "client_id": "1234567890.1718000000",
            "language": "en-us",
            "screen_resolution": "1920x1080",
            "x-ga-mp2-are": "1",
            "x-ga-mp2-frm": "0",
            "x-ga-mp2-pscdl": "noapi",
            "x-ga-request_count": 1,
            "ga_session_id": "1718000000",
            "ga_session_number": 3,
            "x-ga-mp2-seg": "1",
            "page_location": "https://shop.example.com/bowls?utm_source=newsletter",
            "page_referrer": "https://www.google.com/",
            "page_title": "Dog Bowls | Example Shop",
            "x-ga-tfd": 1234,
            "x-ga-mp2-richsstsse": "",
            "x-ga-system_properties": {"eu": "AEA", "fv": "1", "nsi": "1", "ss": "1", "ee": "1"},
            "client_hints": {
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
                "wow64": false
            },
            CONSENT_KEY: {
                "ad_storage": "denied",
                "analytics_storage": "granted",
                "ad_user_data": "granted",
                "ad_personalization": "granted"
            },
            "ip_override": "198.51.100.23",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"
        })
    );
    // event_name leads, as in sGTM's preview.
    assert_eq!(
        data.as_object().unwrap().keys().next().unwrap(),
        "event_name"
    );
}

#[test]
fn consent_state_reads_denied_storage_for_triggers() {
    let events = parse("v=2&tid=G-1&en=page_view&gcs=G100&gcd=13p3p3p3p5", "");
    assert!(!events[0].consent_granted("analytics_storage"));
    assert!(!events[0].consent_granted("ad_storage"));
    let without = parse("v=2&tid=G-1&en=page_view", "");
    assert!(without[0].consent_granted("analytics_storage"));
    assert!(!without[0].data.contains_key(CONSENT_KEY));
}

/// A purchase with two items, one promoted, as gtag.js sends it.
const PURCHASE: &str = "v=2&tid=G-8XYZ12345&gtm=45je4ca0v9123456789za200&_p=1718000000456\
    &cid=1234567890.1718000000&uid=customer-42&ul=de-de&sr=390x844&_s=7\
    &sid=1718000000&sct=3&seg=1&dl=https%3A%2F%2Fshop.example.com%2Fcheckout%2Fdone\
    &dt=Thank%20you&en=purchase&_et=4210&cu=EUR&ep.transaction_id=T-1001\
    &epn.value=52.48&epn.tax=3.6&epn.shipping=4.99&ep.coupon=WELCOME10\
    &ep.affiliation=Example%20Shop&ep.payment_type=card\
    &pr1=idBOWL-10~nmSteel%20Bowl~brAcme~caPets~c2Dogs~c3Bowls~c4Steel~c5Large~vaLarge\
~pr19.99~qt2~ds1~lp1~afExample%20Shop~cpBOWLS5~lnSearch%20Results~lisearch_results\
~loChIJ123~k0material~v0steel\
    &pr2=idTOY-3~nmRope%20Toy~pr12.5~qt1~piSUMMER24~pnSummer%20Sale~cnbanner~cstop_slot\
    &up.membership=gold&upn.lifetime_orders=12";

#[test]
fn purchase_carries_transaction_value_currency_and_items() {
    let data = parse_one(PURCHASE);
    assert_eq!(data["event_name"], "purchase");
    assert_eq!(data["transaction_id"], "T-1001");
    assert_eq!(data["value"], json!(52.48));
    assert_eq!(data["tax"], json!(3.6));
    assert_eq!(data["shipping"], json!(4.99));
    assert_eq!(data["coupon"], "WELCOME10");
    assert_eq!(data["affiliation"], "Example Shop");
    assert_eq!(data["payment_type"], "card");
    assert_eq!(data["currency"], "EUR");
    assert_eq!(data["user_id"], "customer-42");
    assert_eq!(data["engagement_time_msec"], json!(4210));
    assert_eq!(
        data["x-ga-mp2-user_properties"],
        json!({"membership": "gold", "lifetime_orders": 12})
    );
    assert_eq!(
        data["items"],
        json!([
            {
                "item_id": "BOWL-10",
                "item_name": "Steel Bowl",
                "item_brand": "Acme",
                "item_category": "Pets",
                "item_category2": "Dogs",
                "item_category3": "Bowls",
                "item_category4": "Steel",
                "item_category5": "Large",
                "item_variant": "Large",
                "price": 19.99,
                "quantity": 2,
                "discount": 1,
                "index": 1,
                "affiliation": "Example Shop",
                "coupon": "BOWLS5",
                "item_list_name": "Search Results",
                "item_list_id": "search_results",
                "location_id": "ChIJ123",
                "material": "steel"
            },
            {
                "item_id": "TOY-3",
                "item_name": "Rope Toy",
                "price": 12.5,
                "quantity": 1,
                "promotion_id": "SUMMER24",
                "promotion_name": "Summer Sale",
                "creative_name": "banner",
                "creative_slot": "top_slot"
            }
        ])
    );
}

#[test]
fn bare_low_stock_hit_from_the_issue() {
    let data = parse_one("v=2&tid=G-0000&en=LowStock&ep.sku=BOWL-10");
    assert_eq!(data["event_name"], "LowStock");
    assert_eq!(data["sku"], "BOWL-10");
    assert_eq!(data["x-ga-measurement_id"], "G-0000");
    assert_eq!(data["ip_override"], "198.51.100.23");
}

#[test]
fn batched_post_of_three_events_overrides_shared_parameters_per_line() {
    let query = "v=2&tid=G-8XYZ12345&gtm=45je4ca0v9123456789za200&_p=1718000000789\
        &cid=1234567890.1718000000&ul=en-us&sr=1920x1080&sid=1718000000&sct=3&seg=1\
        &dl=https%3A%2F%2Fshop.example.com%2Fbowls&dt=Bowls&_s=4";
    let body = "en=scroll&epn.percent_scrolled=90&_et=5012\r\n\
        en=view_item&_s=5&cu=EUR&epn.value=19.99&pr1=idBOWL-10~nmSteel%20Bowl~pr19.99\r\n\
        \r\n\
        en=user_engagement&_et=1500&dl=https%3A%2F%2Fshop.example.com%2Fbowls%3Fpage%3D2\n";
    let events = parse(query, body);
    assert_eq!(events.len(), 3);
    let names: Vec<&str> = events.iter().map(Event::name).collect();
    assert_eq!(names, ["scroll", "view_item", "user_engagement"]);

    let scroll = &events[0].data;
    assert_eq!(scroll["percent_scrolled"], json!(90));
    assert_eq!(scroll["engagement_time_msec"], json!(5012));
    assert_eq!(scroll["x-ga-request_count"], json!(4), "shared _s");
    assert_eq!(scroll["client_id"], "1234567890.1718000000", "shared cid");
    assert!(!scroll.contains_key("items"));

    let view_item = &events[1].data;
    assert_eq!(
        view_item["x-ga-request_count"],
        json!(5),
        "line _s overrides"
    );
    assert_eq!(view_item["value"], json!(19.99));
    assert_eq!(view_item["items"][0]["item_id"], "BOWL-10");
    assert!(
        !view_item.contains_key("percent_scrolled"),
        "lines do not leak"
    );

    let engagement = &events[2].data;
    assert_eq!(
        engagement["page_location"],
        "https://shop.example.com/bowls?page=2"
    );
    assert_eq!(
        events[0].data["page_location"],
        "https://shop.example.com/bowls"
    );
}

#[test]
fn sendbeacon_empty_body_is_one_event_from_the_query() {
    let events = parse(&format!("?{PURCHASE}"), "");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name(), "purchase");
    // Whitespace-only bodies are empty too.
    assert_eq!(parse(PURCHASE, "\r\n\n  \n").len(), 1);
}

#[test]
fn request_supplies_ip_user_agent_and_ga_cookie() {
    let mut request = request();
    request.headers = request
        .headers
        .with_cookies(vec![("_ga".into(), "GA1.1.987654321.1717000000".into())]);
    let events = parse_ga4(
        "v=2&tid=G-1&en=page_view",
        b"",
        &request,
        &Limits::default(),
    )
    .unwrap();
    let data = &events[0].data;
    assert_eq!(data["x-ga-js_client_id"], "987654321.1717000000");
    assert_eq!(
        data["client_id"], "987654321.1717000000",
        "stands in for cid"
    );
    assert!(
        data["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("Mozilla/5.0")
    );

    let events = parse_ga4(
        "v=2&tid=G-1&en=page_view&cid=111.222&_uip=203.0.113.77",
        b"",
        &request,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        events[0].data["client_id"], "111.222",
        "cid wins over the cookie"
    );
    assert_eq!(events[0].data["ip_override"], "203.0.113.77", "_uip wins");

    let bare = RequestInfo::default();
    let events = parse_ga4("v=2&tid=G-1&en=page_view", b"", &bare, &Limits::default()).unwrap();
    assert!(!events[0].data.contains_key("ip_override"));
    assert!(!events[0].data.contains_key("user_agent"));
}

#[test]
fn campaign_debug_session_and_server_side_parameters() {
    let data = parse_one(
        "v=2&tid=G-1&en=page_view&cs=newsletter&cm=email&cn=spring_sale&cc=hero_button\
         &ck=dog%20bowls&ci=cmp-7&_dbg=1&dh=shop.example.com&ir=1&tt=internal&_glv=1\
         &_geo=1&_rdi=1&_c=1&sst.rnd=1234.5678&sst.gse=1&sst.etld=example.com&gcu=1&gcut=2",
    );
    assert_eq!(data["campaign_source"], "newsletter");
    assert_eq!(data["campaign_medium"], "email");
    assert_eq!(data["campaign_name"], "spring_sale");
    assert_eq!(data["campaign_content"], "hero_button");
    assert_eq!(data["campaign_term"], "dog bowls");
    assert_eq!(data["campaign_id"], "cmp-7");
    assert_eq!(data["debug_mode"], json!(true));
    assert_eq!(data["page_hostname"], "shop.example.com");
    assert_eq!(data["x-ga-mp2-ir"], "1");
    assert_eq!(data["x-ga-mp2-tt"], "internal");
    assert_eq!(data["x-ga-gcu"], "1");
    assert_eq!(data["x-ga-gcut"], "2");
    assert_eq!(
        data["x-ga-system_properties"],
        json!({"glv": "1", "geo": "1", "rdi": "1", "c": "1"})
    );
    assert_eq!(
        data["x-sst-system_properties"],
        json!({"rnd": "1234.5678", "gse": "1", "etld": "example.com"})
    );
}

#[test]
fn unknown_parameters_are_kept_under_x_ga_mp2() {
    let data = parse_one("v=2&tid=G-1&en=page_view&zz=mystery&foo.bar=baz&=empty&ep.=x");
    assert_eq!(data["x-ga-mp2-zz"], "mystery");
    assert_eq!(data["x-ga-mp2-foo.bar"], "baz");
    assert!(!data.as_object().unwrap().contains_key(""));
}

#[test]
fn typed_custom_parameters_follow_their_prefix() {
    let data = parse_one("v=2&tid=G-1&en=x&ep.count=12&epn.count2=12&epn.bad=12abc&upn.score=1.5");
    assert_eq!(data["count"], "12", "ep.* stays a string");
    assert_eq!(data["count2"], json!(12));
    assert_eq!(data["bad"], "12abc", "a malformed number is kept as sent");
    assert_eq!(data["x-ga-mp2-user_properties"]["score"], json!(1.5));
}

#[test]
fn items_are_ordered_by_index_and_a_repeated_index_keeps_the_last() {
    let events = parse(
        "v=2&tid=G-1&pr3=idC&pr1=idA-old",
        "en=view_cart&pr1=idA&pr2=idB\nen=view_cart&pr1=idZ",
    );
    let ids = |event: &Event| -> Vec<String> {
        event.data["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["item_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&events[0]), ["A", "B", "C"]);
    assert_eq!(ids(&events[1]), ["Z", "C"]);
}

#[test]
fn an_event_without_a_name_is_refused() {
    let error = parse_ga4("v=2&tid=G-1", b"", &request(), &Limits::default()).unwrap_err();
    assert_eq!(error, CollectError::MissingEventName { event: 0 });
    assert_eq!(error.to_string(), "event 0: missing event name (en)");
    let error = parse_ga4(
        "v=2&tid=G-1",
        b"en=scroll\nepn.percent_scrolled=90\n",
        &request(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(error, CollectError::MissingEventName { event: 1 });
    let error = parse_ga4("v=2&en=", b"", &request(), &Limits::default()).unwrap_err();
    assert_eq!(error, CollectError::MissingEventName { event: 0 });
}

#[test]
fn only_protocol_version_2_is_accepted() {
    let error = parse_ga4("v=1&tid=G-1&en=x", b"", &request(), &Limits::default()).unwrap_err();
    assert_eq!(error, CollectError::UnsupportedVersion("1".into()));
    assert_eq!(
        error.to_string(),
        "unsupported protocol version v=1; GA4 hits carry v=2"
    );
    let error = parse_ga4("tid=G-1&en=x", b"", &request(), &Limits::default()).unwrap_err();
    assert_eq!(error, CollectError::MissingVersion);
    // A line may carry v itself.
    assert_eq!(
        parse_ga4("tid=G-1", b"v=2&en=x", &request(), &Limits::default())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn limits_refuse_oversized_requests_with_reasons() {
    let limits = Limits {
        max_events: 2,
        max_params_per_event: 5,
        max_items_per_event: 2,
    };
    let run = |query: &str, body: &str| parse_ga4(query, body.as_bytes(), &request(), &limits);

    assert_eq!(
        run("v=2", "en=a\nen=b\nen=c").unwrap_err(),
        CollectError::TooManyEvents { count: 3, max: 2 }
    );
    assert_eq!(run("v=2", "en=a\n\nen=b\n").unwrap().len(), 2);

    assert_eq!(
        run("v=2&tid=G-1&cid=1", "en=a&ep.a=1&ep.b=2").unwrap_err(),
        CollectError::TooManyParams {
            event: 0,
            count: 6,
            max: 5
        }
    );
    assert_eq!(
        run("v=2&tid=G-1&en=a&ep.a=1&ep.b=2&ep.c=3", "").unwrap_err(),
        CollectError::TooManyParams {
            event: 0,
            count: 6,
            max: 5
        }
    );
    // Overridden shared parameters are counted once.
    assert!(run("v=2&tid=G-1&en=a&ep.a=1", "en=b&ep.a=2").is_ok());

    assert_eq!(
        run("v=2&en=a&pr1=idA&pr2=idB&pr3=idC", "").unwrap_err(),
        CollectError::TooManyItems {
            event: 0,
            count: 3,
            max: 2
        }
    );
    let error = run("v=2&en=a&pr7=idA", "").unwrap_err();
    assert_eq!(
        error,
        CollectError::ItemIndexTooHigh {
            event: 0,
            index: 7,
            max: 2
        }
    );
    assert_eq!(
        error.to_string(),
        "event 0: item index pr7 is above the maximum of 2"
    );
    // Items do not count as parameters.
    assert!(run("v=2&tid=G-1&en=a&pr1=idA&pr2=idB", "").is_ok());
}

#[test]
fn default_limits_accept_200_items_and_refuse_201() {
    let items: String = (1..=200).map(|n| format!("&pr{n}=idSKU{n}~pr1")).collect();
    let query = format!("v=2&tid=G-1&en=view_item_list{items}");
    let events = parse(&query, "");
    assert_eq!(events[0].data["items"].as_array().unwrap().len(), 200);
    let error = parse_ga4(
        &format!("{query}&pr201=idX"),
        b"",
        &request(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(error.reason(), "too_many_items");
    let error = parse_ga4(
        "v=2&tid=G-1&en=view_item&pr201=idX",
        b"",
        &request(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(error.reason(), "item_index_too_high");
}

#[test]
fn non_utf8_and_odd_encodings_do_not_panic() {
    let body = b"en=caf\xe9&ep.x=%FF%FE&ep.y=a+b\n";
    let events = parse_ga4("v=2&tid=G-1", body, &request(), &Limits::default()).unwrap();
    assert_eq!(events[0].name(), "caf\u{fffd}");
    assert_eq!(events[0].data["y"], "a b");
}

#[test]
fn a_line_overrides_a_shared_parameter_whatever_encoding_either_name_uses() {
    // The same names, encoded differently in the query and in the line: they are one
    // parameter, as form decoding makes them, and the line's value wins.
    let query = "v=2&tid=G-1&ep.gift+wrap=no&ep.caf%C3%A9=1&%65n=page_view&ep.size=S";
    let body = "ep.gift%20wrap=yes&ep.café=2&en=purchase\n".as_bytes();
    let events = parse_ga4(query, body, &request(), &Limits::default()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].name(),
        "purchase",
        "`%65n` is `en`, and the line's wins"
    );
    let data = &events[0].data;
    assert_eq!(data["gift wrap"], "yes");
    assert_eq!(data["café"], "2");
    assert_eq!(
        data["size"], "S",
        "a shared parameter the line leaves alone"
    );
    // A version given only in percent-encoded form is still the version.
    let events = parse_ga4("%76=2&en=page_view", b"", &request(), &Limits::default()).unwrap();
    assert_eq!(events[0].name(), "page_view");
}

#[test]
fn events_nobody_reads_are_kept_as_their_name_and_the_others_in_full() {
    let body = "en=page_view\nen=purchase&ep.transaction_id=T-1&pr1=idSKU-1~qt2";
    let limits = Limits::default();
    let only_purchases = |name: &str| name == "purchase";
    let selective = super::parse_ga4_selective(
        "v=2&tid=G-1&cid=1.2",
        body.as_bytes(),
        &request(),
        &limits,
        &only_purchases,
    )
    .unwrap();
    let full = parse("v=2&tid=G-1&cid=1.2", body);
    assert_eq!(selective.len(), 2);
    assert_eq!(
        crate::event::event_data_value(&selective[0].data),
        json!({"event_name": "page_view"})
    );
    assert_eq!(selective[0].client, ClientKind::Ga4);
    assert_eq!(selective[1], full[1], "the purchase is parsed in full");
    assert_eq!(full[1].data["transaction_id"], "T-1");
}

#[test]
fn events_nobody_reads_are_still_refused_for_what_would_refuse_them() {
    let limits = Limits {
        max_items_per_event: 2,
        ..Limits::default()
    };
    let nobody = |_: &str| false;
    let run = |query: &str, body: &str| {
        super::parse_ga4_selective(query, body.as_bytes(), &request(), &limits, &nobody)
    };
    assert_eq!(
        run("tid=G-1&en=page_view", ""),
        Err(CollectError::MissingVersion)
    );
    assert_eq!(
        run("v=2&tid=G-1", "en=\n"),
        Err(CollectError::MissingEventName { event: 0 })
    );
    assert!(matches!(
        run("v=2&en=view_item&pr3=idA", ""),
        Err(CollectError::ItemIndexTooHigh { index: 3, .. })
    ));
    assert!(run("v=2&en=view_item&pr2=idA", "").is_ok());
}
