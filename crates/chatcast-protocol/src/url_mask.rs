//! The URL rule of the privacy policy (`docs/privacy.md`, "URLs"): wherever a
//! page URL leaves the visitor's page or is stored, the query's values and the
//! fragment are masked; the scheme, host and path stay, and so do parameter
//! names, so that the consultant still sees where the visitor is. A site may
//! list parameters whose values stay visible (`keep`; the entry `#` keeps the
//! fragment whole).
//!
//! The widget and the agent apply the same rule in the browser
//! (`web/src/shared/urlmask.ts`) before anything is sent; the server applies it
//! again before it stores or forwards a URL. Both are tested on the same cases
//! (`url_mask_cases.json`). The rule works on the string as written (no
//! parsing and re-serializing), so that masking twice changes nothing.

/// What a masked value becomes.
pub const URL_MASK: &str = "•••";

/// `url` with its secrets masked; `keep`: parameter names whose values stay.
pub fn mask_url(url: &str, keep: &[String]) -> String {
    let kept = |name: &str| keep.iter().any(|k| k.eq_ignore_ascii_case(name));
    let (before_hash, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before_hash.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_hash, None),
    };
    let mut out = String::with_capacity(url.len());
    match scheme_of(base) {
        // http(s), ws(s), relative URLs: the path stays, credentials go.
        Some(s) if is_hierarchical(s) => out.push_str(&strip_userinfo(base)),
        None => out.push_str(&strip_userinfo(base)),
        // mailto:, tel:, javascript:, data:, blob: … : what follows the scheme is the data.
        Some(s) => {
            out.push_str(&base[..s.len() + 1]);
            if base.len() > s.len() + 1 {
                out.push_str(URL_MASK);
            }
            // The query and fragment of such a URL are data too.
            return out;
        }
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(&mask_params(q, &kept));
    }
    if let Some(f) = fragment {
        out.push('#');
        if f.is_empty() || keep.iter().any(|k| k == "#") || f == URL_MASK {
            out.push_str(f);
        } else if looks_like_params(f) {
            out.push_str(&mask_params(f, &kept));
        } else {
            out.push_str(URL_MASK);
        }
    }
    out
}

/// `a=1&b=2` → `a=•••&b=•••` (kept names keep their values; a bare value is masked).
fn mask_params(q: &str, kept: &dyn Fn(&str) -> bool) -> String {
    q.split('&')
        .map(|part| match part.split_once('=') {
            Some((name, _)) if kept(name) => part.to_owned(),
            Some((name, "")) => format!("{name}="),
            Some((name, _)) => format!("{name}={URL_MASK}"),
            None if part.is_empty() || part == URL_MASK || kept(part) => part.to_owned(),
            // `?4f8a9c…`: a bare token is a value, not a name.
            None => URL_MASK.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A fragment of `name=value` pairs (OAuth's `#access_token=…&token_type=…`).
fn looks_like_params(f: &str) -> bool {
    let f = f.strip_prefix('/').unwrap_or(f);
    !f.is_empty() && f.split('&').all(|p| p.split_once('=').is_some_and(|(n, _)| is_name(n)))
}

fn is_name(n: &str) -> bool {
    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'))
}

/// The scheme of an absolute URL (`https` of `https://…`), if it has one.
fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).then_some(scheme)
}

fn is_hierarchical(scheme: &str) -> bool {
    ["http", "https", "ws", "wss", "ftp", "file"].iter().any(|s| s.eq_ignore_ascii_case(scheme))
}

/// `https://user:pass@host/x` → `https://host/x`.
fn strip_userinfo(base: &str) -> String {
    let Some(start) = base.find("//").map(|i| i + 2) else { return base.to_owned() };
    let authority_end = base[start..].find('/').map_or(base.len(), |i| start + i);
    match base[start..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &base[..start], &base[start + at + 1..]),
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Case {
        url: String,
        #[serde(default)]
        keep: Vec<String>,
        masked: String,
    }

    /// The cases the TypeScript implementation is tested on too.
    #[test]
    fn shared_cases() {
        let cases: Vec<Case> = serde_json::from_str(include_str!("url_mask_cases.json")).unwrap();
        assert!(cases.len() > 10);
        for c in cases {
            let got = mask_url(&c.url, &c.keep);
            assert_eq!(got, c.masked, "mask_url({:?}, {:?})", c.url, c.keep);
            assert_eq!(mask_url(&got, &c.keep), got, "masking twice changes nothing: {:?}", c.url);
        }
    }
}
