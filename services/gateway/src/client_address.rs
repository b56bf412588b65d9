//! The client's address for per-client limits: the peer's, unless the peer is one of the
//! configured trusted proxies (`gateway.trusted_proxies`, an ingress), in which case the
//! nearest address in `X-Forwarded-For` that is not itself a trusted proxy. An untrusted peer's
//! `X-Forwarded-For` is ignored: anyone can write one.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ohjaus_platform::config::IpNet;

/// The address a request is counted against.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Each proxy appends the address it received from; read from the nearest hop outwards.
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            // A hop we cannot read: trust nothing beyond it.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(value: &str) -> IpAddr {
        value.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let forwarded = headers(&["198.51.100.7"]);
        assert_eq!(client_address(ip("10.1.2.3"), &forwarded, &trusted), ip("198.51.100.7"));
        assert_eq!(client_address(ip("203.0.113.9"), &forwarded, &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(ip("10.1.2.3"), &forwarded, &[]), ip("10.1.2.3"));
    }

    #[test]
    fn the_nearest_untrusted_hop_counts_and_a_forged_prefix_does_not() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client wrote "1.2.3.4" itself; the ingress appended what it saw.
        let forwarded = headers(&["1.2.3.4, 198.51.100.7", "10.0.0.5"]);
        assert_eq!(client_address(ip("10.1.2.3"), &forwarded, &trusted), ip("198.51.100.7"));
        assert_eq!(client_address(ip("10.1.2.3"), &headers(&["garbage"]), &trusted), ip("10.1.2.3"));
        assert_eq!(client_address(ip("10.1.2.3"), &headers(&[]), &trusted), ip("10.1.2.3"));
    }
}
