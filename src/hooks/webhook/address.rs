//! Which webhook URLs the daemon may call.
//!
//! Unless `webhooks.allow_private` is set, a URL whose host is, or resolves to, an address that
//! is not public (loopback, private, link-local, site-local, unique-local, unspecified, shared,
//! documentation, multicast, discard, reserved, or an IPv6 address that leads to such an IPv4
//! one) is refused: whoever may create a subscription must not be able to make
//! the daemon probe its own host or network. The check runs when a subscription is saved, and
//! again at delivery, through [`PublicOnly`], the HTTP client's resolver, so a name that is
//! re-pointed later (DNS rebinding) is refused at the moment of connecting.
//!
//! A refusal reads the same whether the name does not resolve or resolves to an address that
//! is not public, and names no address: otherwise whoever may create a subscription could use
//! the answers to map which names the host's network knows, and where they point.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Refused {
    #[error("the URL must be absolute http:// or https://")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    /// The host does not resolve, or one of its addresses is not public: which of the two,
    /// and which address, goes to the log only.
    #[error("{host} must resolve to public addresses only (set webhooks.allow_private = true to allow private ones)")]
    NotPublic { host: String },
}

/// Whether `address` is on the public internet. An IPv6 address that carries an IPv4 one
/// the network reaches it through is judged by that IPv4 address.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match carried_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 one leads to: IPv4-mapped `::ffff:0:0/96`, the well-known NAT64
/// prefix `64:ff9b::/96` (its last 32 bits), and 6to4 `2002::/16` (the 32 bits after the
/// prefix, the relay's address).
fn carried_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match segments {
        [0x0064, 0xff9b, 0, 0, 0, 0, high, low] => Some(v4(high, low)),
        [0x2002, high, low, ..] => Some(v4(high, low)),
        _ => ip.to_ipv4_mapped(),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (18..20).contains(&b))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // IPv4-compatible, ::/96 (deprecated; `::` and `::1` among them).
        || segments[..6] == [0; 6]
        // Discard-only, 100::/64.
        || segments[..4] == [0x0100, 0, 0, 0]
        // Local-use NAT64, 64:ff9b:1::/48: translated into a network of its operator's.
        || segments[..3] == [0x0064, 0xff9b, 0x0001]
        // Unique local, fc00::/7.
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (first & 0xffc0) == 0xfe80
        // Site-local, fec0::/10 (deprecated, still routed locally by some).
        || (first & 0xffc0) == 0xfec0
        // Documentation, 2001:db8::/32.
        || (first == 0x2001 && segments[1] == 0x0db8))
}

/// Checks a URL before it is saved: its scheme, and every address its host resolves to.
pub async fn check(url: &str, allow_private: bool) -> Result<(), Refused> {
    let parsed = Url::parse(url).map_err(|_| Refused::Scheme)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Refused::Scheme);
    }
    if allow_private {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    match parsed.host().ok_or(Refused::NoHost)? {
        Host::Ipv4(v4) => public_or_refused(&v4.to_string(), IpAddr::V4(v4)),
        Host::Ipv6(v6) => public_or_refused(&v6.to_string(), IpAddr::V6(v6)),
        Host::Domain(name) => resolve_public(name, port).await.map(drop),
    }
}

/// Checks the literal address of a URL at delivery time; names are checked by [`PublicOnly`]
/// when the client connects.
pub fn check_literal(url: &Url) -> Result<(), Refused> {
    match url.host() {
        Some(Host::Ipv4(v4)) => public_or_refused(&v4.to_string(), IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => public_or_refused(&v6.to_string(), IpAddr::V6(v6)),
        Some(Host::Domain(_)) => Ok(()),
        None => Err(Refused::NoHost),
    }
}

fn public_or_refused(host: &str, address: IpAddr) -> Result<(), Refused> {
    if is_public(address) {
        Ok(())
    } else {
        tracing::debug!(host, %address, "webhook URL refused: not a public address");
        Err(not_public(host))
    }
}

fn not_public(host: &str) -> Refused {
    Refused::NotPublic {
        host: host.to_owned(),
    }
}

/// Resolves `host`, refusing it if any of its addresses is not public.
async fn resolve_public(host: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
    let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(addresses) => addresses.collect(),
        Err(error) => {
            tracing::debug!(host, %error, "webhook URL refused: its host does not resolve");
            Vec::new()
        }
    };
    if addresses.is_empty() {
        return Err(not_public(host));
    }
    for address in &addresses {
        public_or_refused(host, address.ip())?;
    }
    Ok(addresses)
}

/// The delivery client's resolver when private addresses are not allowed.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            // The port is replaced by the URL's own when connecting.
            let addresses = resolve_public(name.as_str(), 0).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

impl PublicOnly {
    pub fn resolver() -> Arc<PublicOnly> {
        Arc::new(PublicOnly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::constraints;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "2001:db8::1",
            "192.0.0.1",
            "192.0.0.170",
            "::127.0.0.1",
            "::10.0.0.1",
            "::1.1.1.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1.1.1.1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "fec0::1",
            "feff::1",
            "100::1",
            "100::ffff:ffff:ffff:ffff",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "192.0.1.1",
            "64:ff9b::1.1.1.1",
            "2002:101:101::1",
            "100:0:0:1::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn urls_are_refused_by_scheme_and_address() {
        assert_eq!(
            check("ftp://example.com/", false).await,
            Err(Refused::Scheme)
        );
        assert!(matches!(
            check("http://127.0.0.1:9/hook", false).await,
            Err(Refused::NotPublic { .. })
        ));
        assert!(matches!(
            check("http://localhost:9/hook", false).await,
            Err(Refused::NotPublic { .. })
        ));
        assert_eq!(check("http://127.0.0.1:9/hook", true).await, Ok(()));
        assert_eq!(check("http://93.184.215.14/hook", false).await, Ok(()));
    }

    /// `schema`'s pattern, as a client or a fuzzer would apply it.
    fn pattern_of(schema: utoipa::openapi::schema::Object) -> fancy_regex::Regex {
        let schema = serde_json::to_value(schema).unwrap();
        fancy_regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn an_ipv6_host_is_taken_as_the_url_parser_takes_it() {
        use proptest::prelude::*;
        let pattern = pattern_of(constraints::media_url());
        let takes = |url: &str| pattern.is_match(url).unwrap();
        for url in [
            "http://[::1]:8080/",
            "https://[2001:DB8::1]/hook",
            "http://[::ffff:192.0.2.1]",
            "http://[1:2:3:4:5:6:7:8]/",
            "http://[1::8]?q",
        ] {
            assert!(url::Url::parse(url).is_ok(), "{url}");
            assert!(takes(url), "{url}");
        }
        for url in [
            "http://[1::2::3]/",
            "http://[12345::]/",
            "http://[::1.2.3.04]/",
            "http://[::1",
        ] {
            assert!(url::Url::parse(url).is_err(), "{url}");
            assert!(!takes(url), "{url}");
        }
        // Pieces of hex digits, or an IPv4 address of sorts, joined by `:` or `::`: valid
        // addresses often, and all the ways of being one piece off.
        let piece =
            "[0-9a-fA-F]{0,5}|(?:0|1?[0-9]{1,2}|2[0-9]{2})(?:\\.(?:0|1?[0-9]{1,2}|2[0-9]{2})){2,4}";
        let separator = prop_oneof![4 => Just(":"), 1 => Just("::")];
        let addresses = proptest::collection::vec((piece, separator), 1..10).prop_map(|pieces| {
            pieces
                .into_iter()
                .enumerate()
                .map(|(n, (piece, separator))| {
                    if n == 0 {
                        piece
                    } else {
                        format!("{separator}{piece}")
                    }
                })
                .collect::<String>()
        });
        crate::fuzz::check(addresses, |address| {
            let url = format!("http://[{address}]/");
            let parsed = url::Url::parse(&url).is_ok();
            proptest::prop_assert_eq!(takes(&url), parsed, "{}", url);
            Ok(())
        });
    }

    #[test]
    fn a_webhook_pattern_refuses_the_ipv6_literals_the_daemon_would() {
        let pattern = pattern_of(constraints::webhook_url());
        for host in [
            "::",
            "::1",
            "fc00::1",
            "FD12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
        ] {
            let url = format!("https://[{host}]/hook");
            assert!(!pattern.is_match(&url).unwrap(), "{url}");
            assert!(!is_public(host.parse().unwrap()), "{host}");
        }
        for host in ["2001:4860:4860::8888", "fc::1", "fe7f::1"] {
            let url = format!("https://[{host}]:8443/hook");
            assert!(pattern.is_match(&url).unwrap(), "{url}");
        }
    }
}
