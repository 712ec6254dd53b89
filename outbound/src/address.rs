//! The outbound address policy: webhooks are sent only to public internet addresses.
//!
//! A URL an admin saves could otherwise make the shop call its own database port, a
//! neighbour on the private network or the cloud's metadata service
//! (`169.254.169.254`) and read the answer in the delivery log: server-side request
//! forgery. So a webhook URL must be `https`, carry no credentials, and every address
//! its host resolves to must be public ([`is_public`]). The check runs when an
//! endpoint is saved (maef-api) and again when each request is made (maef-worker,
//! which connects only to the addresses it checked: a name that resolved to a public
//! address at saving and to `127.0.0.1` later — DNS rebinding — is refused then).
//!
//! [`Policy::allow_private`] (`WEBHOOK_ALLOW_PRIVATE=1`) lifts the address rule and
//! allows plain `http`, for tests and development only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the policy allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allow loopback, private, link-local and other non-public addresses, and plain
    /// `http`: for tests and development only (`WEBHOOK_ALLOW_PRIVATE=1`).
    pub allow_private: bool,
}

/// Why a URL or an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an absolute URL.
    #[error("not a valid URL: {0}")]
    Invalid(String),
    /// Not `https` (or `http` when private addresses are allowed).
    #[error("the URL must use https")]
    Scheme,
    /// `user:password@` in the URL: secrets belong in the signature, not the URL.
    #[error("the URL must not contain credentials")]
    Credentials,
    /// The address (literal, or one the host resolves to) is not public.
    #[error("{0} is not a public internet address (loopback, private, link-local, metadata and reserved addresses are refused)")]
    NotPublic(IpAddr),
    /// The host name does not resolve.
    #[error("the host {host} does not resolve: {reason}")]
    Unresolvable {
        /// The host.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
}

impl Refusal {
    /// A stable name for error bodies (`webhook_url_not_public`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Invalid(_) => "webhook_url_invalid",
            Refusal::Scheme => "webhook_url_scheme",
            Refusal::Credentials => "webhook_url_credentials",
            Refusal::NotPublic(_) => "webhook_url_not_public",
            Refusal::Unresolvable { .. } => "webhook_url_unresolvable",
        }
    }
}

/// Whether an address is on the public internet: not unspecified, loopback, private
/// (RFC 1918, unique local), shared (CGNAT), link-local (cloud metadata services live
/// there), documentation, benchmarking, multicast, broadcast or reserved. An IPv6
/// address embedding an IPv4 one (mapped, compatible, NAT64, 6to4) is judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    let refused = o[0] == 0                                   // 0.0.0.0/8: "this network"
        || ip.is_loopback()                                   // 127.0.0.0/8
        || ip.is_private()                                    // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()                                 // 169.254/16: metadata services
        || (o[0] == 100 && (o[1] & 0xc0) == 64)               // 100.64/10: carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)            // 192.0.0.0/24: IETF assignments
        || (o[0] == 192 && o[1] == 0 && o[2] == 2)            // TEST-NET-1
        || (o[0] == 198 && (o[1] & 0xfe) == 18)               // 198.18/15: benchmarking
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)         // TEST-NET-2
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)          // TEST-NET-3
        || (o[0] == 192 && o[1] == 88 && o[2] == 99)          // 6to4 relay anycast
        || o[0] >= 224; // multicast 224/4, reserved 240/4, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4); // ::ffff:a.b.c.d
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return is_public_v4(embedded(s[6], s[7])); // 64:ff9b::/96 NAT64
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2])); // 2002::/16 6to4
    }
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0; 6]                           // ::/96 IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00                   // fc00::/7 unique local (AWS fd00:ec2::254)
        || (s[0] & 0xffc0) == 0xfe80                   // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0                   // fec0::/10 site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00                   // ff00::/8 multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)          // 2001:db8::/32 documentation
        || (s[0] == 0x2001 && s[1] == 0)               // 2001::/32 Teredo
        || (s[0] == 0x0100 && s[1..4] == [0; 3]); // 100::/64 discard-only
    !refused
}

/// A webhook URL that passed the static checks: scheme, no credentials, a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// The parsed URL.
    pub url: url::Url,
    /// The host: a name to resolve, or a literal address.
    pub host: Host,
    /// The port (the scheme's default when absent).
    pub port: u16,
}

/// The host of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A name, resolved at each check.
    Name(String),
    /// A literal address.
    Ip(IpAddr),
}

/// Parses a webhook URL and applies the rules that need no resolution.
///
/// # Errors
/// A malformed URL, a scheme other than https (http too with `allow_private`),
/// credentials, or a literal address that is not public.
pub fn parse(raw: &str, policy: Policy) -> Result<WebhookUrl, Refusal> {
    let url = url::Url::parse(raw).map_err(|e| Refusal::Invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_private => {}
        _ => return Err(Refusal::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => Host::Name(name.to_string()),
        Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
        None => return Err(Refusal::Invalid("the URL has no host".into())),
    };
    if let Host::Ip(ip) = host {
        check_address(ip, policy)?;
    }
    let port = url.port_or_known_default().unwrap_or(443);
    Ok(WebhookUrl { url, host, port })
}

/// Refuses a non-public address unless the policy allows it.
///
/// # Errors
/// [`Refusal::NotPublic`].
pub fn check_address(ip: IpAddr, policy: Policy) -> Result<(), Refusal> {
    if policy.allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(Refusal::NotPublic(ip))
    }
}

/// Resolves a host name and returns its addresses, all of which must pass the policy
/// (a name resolving to one public and one private address is refused: a client
/// would pick either).
///
/// # Errors
/// The name does not resolve, or one of its addresses is not public.
pub async fn resolve(host: &str, port: u16, policy: Policy) -> Result<Vec<SocketAddr>, Refusal> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Refusal::Unresolvable {
            host: host.to_string(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Refusal::Unresolvable {
            host: host.to_string(),
            reason: "no address".into(),
        });
    }
    for addr in &addrs {
        check_address(addr.ip(), policy)?;
    }
    Ok(addrs)
}

/// [`parse`], then [`resolve`] for a name: the whole check of a URL being saved.
///
/// # Errors
/// Those of [`parse`] and [`resolve`].
pub async fn check(raw: &str, policy: Policy) -> Result<WebhookUrl, Refusal> {
    let parsed = parse(raw, policy)?;
    if let Host::Name(name) = &parsed.host {
        resolve(name, parsed.port, policy).await?;
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_private_link_local_and_reserved_addresses_are_not_public() {
        for refused in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "100::1",
        ] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.0.1",
            "100.128.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(is_public(ip(public)), "{public} must be allowed");
        }
    }

    #[test]
    fn urls_must_be_https_without_credentials_and_literal_addresses_public() {
        let strict = Policy::default();
        assert_eq!(
            parse("http://example.com/h", strict).unwrap_err(),
            Refusal::Scheme
        );
        assert_eq!(parse("ftp://example.com/h", strict).unwrap_err(), Refusal::Scheme);
        assert_eq!(
            parse("https://u:p@example.com/h", strict).unwrap_err(),
            Refusal::Credentials
        );
        assert!(matches!(parse("not a url", strict), Err(Refusal::Invalid(_))));
        for literal in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest",
            "https://[::1]:8443/",
        ] {
            assert!(
                matches!(parse(literal, strict), Err(Refusal::NotPublic(_))),
                "{literal}"
            );
        }
        let ok = parse("https://hooks.example.com:8443/maef?x=1", strict).unwrap();
        assert_eq!((ok.host, ok.port), (Host::Name("hooks.example.com".into()), 8443));
        let dev = Policy { allow_private: true };
        assert!(parse("http://127.0.0.1:9000/h", dev).is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_private_addresses_are_allowed() {
        let refused = check("https://localhost/hook", Policy::default())
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Refusal::NotPublic(a) if a.is_loopback()),
            "{refused:?}"
        );
        assert!(check("https://localhost/hook", Policy { allow_private: true })
            .await
            .is_ok());
    }
}
