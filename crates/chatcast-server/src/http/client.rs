//! The client's address: the socket's peer, or — when that peer is one of the
//! operator's trusted reverse proxies — the address the proxy reports in
//! `X-Forwarded-For`. Every per-address limit (logins, new visitors, sockets)
//! keys on this, so that behind a load balancer the limits apply to visitors,
//! not to the balancer, and a client cannot pick its own address by sending
//! the header directly.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use http::HeaderMap;

use crate::app::AppState;

/// An address range in CIDR form (a single address is a full-length prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    net: IpAddr,
    prefix: u8,
}

impl Range {
    fn parse(s: &str) -> Option<Range> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Range { net, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 peer seen on a dual-stack socket (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed (setting `trusted_proxies`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Range>);

impl TrustedProxies {
    /// Parses addresses and CIDR ranges (`10.0.0.0/8`, `::1`); names the first that is neither.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                Range::parse(s)
                    .ok_or_else(|| format!("trusted_proxies: `{s}` is not an IP address or CIDR range (e.g. 10.0.0.0/8 or ::1)"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client behind `peer`: walking `X-Forwarded-For` from the nearest hop
    /// back, the first address that is not a trusted proxy. Hops a trusted proxy
    /// did not add (anything left of an untrusted one) are the client's own
    /// claims and are never believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            // A hop that is not an address (a proxy wrote garbage, or `unknown`): stop at the last good one.
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The request's client address (see the module doc); an extractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Served without connect info (a router used directly in a unit test): the unspecified address.
        let peer =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(state.proxies.client(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let p = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        assert_eq!(p.client(ip("203.0.113.7"), &headers(&["1.2.3.4"])), ip("203.0.113.7"));
        assert_eq!(TrustedProxies::default().client(ip("127.0.0.1"), &headers(&["1.2.3.4"])), ip("127.0.0.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right() {
        let p = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap();
        // The client forged "6.6.6.6"; the proxy appended the real peer.
        assert_eq!(p.client(ip("10.1.2.3"), &headers(&["6.6.6.6, 198.51.100.9"])), ip("198.51.100.9"));
        // Two proxies in a row, and the header split over two lines.
        assert_eq!(p.client(ip("::1"), &headers(&["6.6.6.6, 198.51.100.9", "10.0.0.5"])), ip("198.51.100.9"));
        // No header: the proxy itself.
        assert_eq!(p.client(ip("10.1.2.3"), &HeaderMap::new()), ip("10.1.2.3"));
        // Garbage stops the walk at the last address a trusted proxy vouched for.
        assert_eq!(p.client(ip("10.1.2.3"), &headers(&["unknown, 10.0.0.9"])), ip("10.0.0.9"));
    }

    #[test]
    fn ranges_parse_and_match() {
        assert!(TrustedProxies::parse(&["127.0.0.1".into(), "fd00::/8".into(), " ".into()]).is_ok());
        let err = TrustedProxies::parse(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
        let p = TrustedProxies::parse(&["0.0.0.0/0".into()]).unwrap();
        assert!(p.trusts(ip("8.8.8.8")));
        assert!(!p.trusts(ip("2001:db8::1")), "a v4 range holds no v6 address");
        // A v4 peer on a dual-stack socket.
        let p = TrustedProxies::parse(&["127.0.0.1".into()]).unwrap();
        assert!(p.trusts(ip("::ffff:127.0.0.1")));
    }
}
