//! Origin checks: a widget socket must come from one of its site's origins; a
//! console socket from the server's own origin (no cross-site WebSocket hijacking).

use http::HeaderMap;

/// Normalizes an origin for comparison: lower-case scheme and host, default
/// port dropped, no path or trailing slash. `None` if it is not an origin.
pub fn normalize(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let rest = rest.to_ascii_lowercase();
    // Host, optional port, IPv6 brackets: nothing that could break out of a header value.
    if !rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')) {
        return None;
    }
    // A port, if given, is a number from 1 to 65535 (an IPv6 host's colons are inside brackets).
    let host_end = if rest.starts_with('[') { rest.find(']').map_or(rest.len(), |i| i + 1) } else { 0 };
    if let Some((host, port)) = rest[host_end..].rsplit_once(':').map(|(h, p)| (&rest[..host_end + h.len()], p)) {
        if host.is_empty() || !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return None;
        }
    } else if rest.is_empty() || rest == "[]" {
        return None;
    }
    let rest = match (scheme.as_str(), rest.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_owned(),
        _ => rest,
    };
    match scheme.as_str() {
        "http" | "https" => Some(format!("{scheme}://{rest}")),
        _ => None,
    }
}

/// The `Origin` header, if present and readable.
pub fn request_origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(http::header::ORIGIN)?.to_str().ok()
}

/// Whether `origin` is in `allowed` (both normalized).
pub fn is_allowed(origin: &str, allowed: &[String]) -> bool {
    let Some(origin) = normalize(origin) else { return false };
    allowed.iter().filter_map(|a| normalize(a)).any(|a| a == origin)
}

/// The origins the console may be used from: the configured public origins, or
/// else the origin of the `Host` the request reached (both schemes, since a
/// TLS-terminating proxy may sit in front).
pub fn own_origins(headers: &HeaderMap, public: &[String]) -> Vec<String> {
    if !public.is_empty() {
        return public.to_vec();
    }
    match headers.get(http::header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => vec![format!("http://{host}"), format!("https://{host}")],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_origins() {
        assert_eq!(normalize("HTTPS://Shop.Example.com:443/").as_deref(), Some("https://shop.example.com"));
        assert_eq!(normalize("http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(normalize("http://[::1]:80").as_deref(), Some("http://[::1]"));
        assert_eq!(normalize("null"), None);
        assert_eq!(normalize("https://a.com/path"), None);
        assert_eq!(normalize("ftp://a.com"), None);
        assert_eq!(normalize("https://a.com; script-src *"), None);
        assert_eq!(normalize("https://a b.com"), None);
        assert_eq!(normalize("http://a.com:99999"), None);
        assert_eq!(normalize("http://a.com:0"), None);
        assert_eq!(normalize("http://:80"), None);
        assert_eq!(normalize("http://[::1]:8080").as_deref(), Some("http://[::1]:8080"));
    }

    #[test]
    fn allowed_is_exact_after_normalizing() {
        let allowed = vec!["https://shop.example.com".to_owned()];
        assert!(is_allowed("https://shop.example.com:443", &allowed));
        assert!(!is_allowed("https://evil.example.com", &allowed));
        assert!(!is_allowed("http://shop.example.com", &allowed));
        assert!(!is_allowed("https://shop.example.com.evil.com", &allowed));
    }
}
