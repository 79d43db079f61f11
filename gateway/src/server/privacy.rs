//! `--truncate-ip`: the `ip_override` of every event truncated as GA4 anonymizes IPs,
//! whether it came from the connection or the hit set it (`_uip`, MP `ip_override`).

use std::net::IpAddr;

use serde_json::Value;

use crate::collect::truncate_ip;
use crate::event::Event;

/// The event data key carrying the client's IP.
const IP_OVERRIDE: &str = "ip_override";

/// Truncate each event's `ip_override`; a value that is not an IP address is removed, as
/// it cannot be truncated and may still identify the client.
pub(crate) fn truncate_ip_overrides(events: &mut [Event]) {
    for event in events {
        let Some(value) = event.data.get(IP_OVERRIDE) else {
            continue;
        };
        match value.as_str().and_then(|text| text.parse::<IpAddr>().ok()) {
            Some(ip) => {
                let truncated = Value::String(truncate_ip(ip).to_string());
                event.data.insert(IP_OVERRIDE.into(), truncated);
            }
            None => {
                event.data.swap_remove(IP_OVERRIDE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hermes_crds::api::ClientKind;
    use serde_json::json;

    use super::*;

    fn event(ip: Option<Value>) -> Event {
        let mut data = crate::event::EventData::default();
        data.insert("event_name".into(), json!("purchase"));
        if let Some(ip) = ip {
            data.insert(IP_OVERRIDE.into(), ip);
        }
        Event {
            client: ClientKind::Ga4,
            data,
        }
    }

    #[test]
    fn every_ip_override_is_truncated_and_an_unparsable_one_removed() {
        let mut events = vec![
            event(Some(json!("203.0.113.77"))),
            event(Some(json!("2001:db8:abcd:12::9"))),
            event(Some(json!("not an ip"))),
            event(None),
        ];
        truncate_ip_overrides(&mut events);
        assert_eq!(events[0].data[IP_OVERRIDE], "203.0.113.0");
        assert_eq!(events[1].data[IP_OVERRIDE], "2001:db8:abcd::");
        assert!(!events[2].data.contains_key(IP_OVERRIDE));
        assert!(!events[3].data.contains_key(IP_OVERRIDE));
        assert_eq!(events[3].data["event_name"], "purchase");
    }
}
