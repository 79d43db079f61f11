//! The client's IP behind proxies: `X-Forwarded-For` is believed only as far as the
//! configured proxies vouch for it, so a browser cannot spoof its address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// `ip` as text, as `Display` writes it. IPv4 (every hit's `ip_override`) is written
/// digit by digit: the formatting machinery costs more than the rest of the address.
pub(crate) fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (position, octet) in v4.octets().into_iter().enumerate() {
        if position > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

/// An address range in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A CIDR that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR {0:?}: expected ADDRESS or ADDRESS/PREFIX, e.g. 10.0.0.0/8")]
pub struct CidrError(String);

impl Cidr {
    /// Whether `ip` lies in this range. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_equal(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_equal(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the top `prefix` bits of two `width`-bit numbers agree.
fn prefix_equal(a: u128, b: u128, width: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(width - prefix);
    (a >> shift) == (b >> shift)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || CidrError(text.to_string());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network = address
            .parse::<IpAddr>()
            .map_err(|_| invalid())?
            .to_canonical();
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| invalid())?,
            None => width,
        };
        if prefix > width {
            return Err(invalid());
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The client's IP for a request from `peer`.
///
/// When `peer` is a trusted proxy, `X-Forwarded-For` (several headers joined with `,`) is
/// walked right to left, skipping trusted proxies; the first untrusted address is the
/// client. An entry that does not parse stops the walk at the last address known good, and
/// when every hop is trusted the leftmost one is the client. An untrusted peer's header is
/// ignored.
pub fn client_ip(peer: IpAddr, x_forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    let Some(header) = x_forwarded_for else {
        return peer;
    };
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for entry in header.rsplit(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some(hop) = parse_hop(entry) else {
            return client;
        };
        client = hop;
        if !is_trusted(hop) {
            return hop;
        }
    }
    client
}

/// The address with its host part zeroed, as GA4 anonymizes IPs: an IPv4 address keeps
/// its first three octets (a /24), an IPv6 address its first 48 bits (a /48). IPv4-mapped
/// IPv6 addresses count as IPv4.
pub fn truncate_ip(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & 0xFFFF_FF00)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 48))),
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or
/// `[2001:db8::1]:443`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (address, _) = rest.split_once(']')?;
        return address.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    let (address, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_writes_every_ipv4_address_as_display_does() {
        for value in (0..=u32::MAX)
            .step_by(65_537)
            .chain([0, 1, 100, 0x0A00_0001, u32::MAX])
        {
            let ip = IpAddr::V4(Ipv4Addr::from(value));
            assert_eq!(ip_text(ip), ip.to_string());
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ip_text(v6), "2001:db8::1");
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn cidr_matches_ipv4_and_ipv6_ranges() {
        let private: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(private.contains(ip("10.200.3.4")));
        assert!(!private.contains(ip("11.0.0.1")));
        assert!(
            private.contains(ip("::ffff:10.1.2.3")),
            "IPv4-mapped counts"
        );
        let ula: Cidr = "fd00::/8".parse().unwrap();
        assert!(ula.contains(ip("fd12:3456::1")));
        assert!(!ula.contains(ip("2001:db8::1")));
        assert!(!ula.contains(ip("10.0.0.1")));
        let everything: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains(ip("203.0.113.9")));
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert!(host.contains(ip("192.0.2.7")));
        assert!(!host.contains(ip("192.0.2.8")));
        assert_eq!(host.to_string(), "192.0.2.7/32");
        let odd: Cidr = "172.16.0.0/12".parse().unwrap();
        assert!(odd.contains(ip("172.31.255.255")));
        assert!(!odd.contains(ip("172.32.0.0")));
    }

    #[test]
    fn truncation_zeroes_the_last_ipv4_octet_and_ipv6_below_the_48_bit_prefix() {
        assert_eq!(truncate_ip(ip("203.0.113.77")), ip("203.0.113.0"));
        assert_eq!(truncate_ip(ip("10.1.2.255")), ip("10.1.2.0"));
        assert_eq!(truncate_ip(ip("::ffff:198.51.100.9")), ip("198.51.100.0"));
        assert_eq!(
            truncate_ip(ip("2001:db8:abcd:12:3456:789a:bcde:f012")),
            ip("2001:db8:abcd::")
        );
        assert_eq!(truncate_ip(ip("2001:db8:ab::1")), ip("2001:db8:ab::"));
    }

    #[test]
    fn cidr_rejects_bad_text() {
        for bad in ["10.0.0.0/33", "::/129", "banana", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn untrusted_peer_cannot_spoof_forwarded_for() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("203.0.113.5"), Some("1.1.1.1"), &trusted),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn trusted_proxy_chain_is_walked_right_to_left() {
        let trusted = cidrs(&["10.0.0.0/8", "35.191.0.0/16"]);
        // spoofed, real client, load balancer, ingress
        let header = "6.6.6.6, 198.51.100.23, 35.191.4.4, 10.4.0.9";
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some(header), &trusted),
            ip("198.51.100.23")
        );
    }

    #[test]
    fn no_header_or_all_trusted_hops() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some("10.9.9.9, 10.0.0.3"), &trusted),
            ip("10.9.9.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some(" , "), &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn garbage_entry_stops_at_last_good_hop() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                Some("198.51.100.1, unknown, 10.0.0.7"),
                &trusted
            ),
            ip("10.0.0.7")
        );
    }

    #[test]
    fn entries_with_ports_and_ipv6_are_understood() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some("198.51.100.1:5555"), &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some("[2001:db8::7]:443"), &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.2"), Some("2001:db8::8"), &trusted),
            ip("2001:db8::8")
        );
    }
}
