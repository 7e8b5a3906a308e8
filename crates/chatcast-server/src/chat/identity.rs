//! `Chatcast.identify`: the site says who a visitor is. The claim is stored
//! either way, but only a `signature` the site's server made — the hex
//! HMAC-SHA256 of the id with the site's identity secret, which never leaves
//! the site's server and the console's Sites page — marks it verified. Any
//! page script can claim anything; only the site's server can sign.

use chatcast_protocol::api::Identity;
use chatcast_protocol::{ErrorBody, ErrorCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::app::AppState;
use crate::storage::StorageError;

/// The longest id, name and email taken.
const MAX_ID: usize = 128;
const MAX_NAME: usize = 100;
const MAX_EMAIL: usize = 254;

/// A `bad_message` error about a frame of type `t`.
fn bad(t: &str, message: String) -> ErrorBody {
    ErrorBody { code: ErrorCode::BadMessage, message, ref_type: Some(t.to_owned()) }
}

/// An optional text a visitor frame carries, trimmed (`None` if empty), at
/// most `max` characters without control characters; `what` names it in the error.
fn text_field(t: &str, what: &str, v: Option<&str>, max: usize) -> Result<Option<String>, ErrorBody> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if v.chars().count() > max {
        return Err(bad(t, format!("{what} is longer than {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(bad(t, format!("{what} contains a control character")));
    }
    Ok(Some(v.to_owned()))
}

/// The identity as given, checked; the error says what is wrong.
pub fn check(id: &str, name: Option<&str>, email: Option<&str>) -> Result<(String, Option<String>, Option<String>), ErrorBody> {
    let field = |what, v, max| text_field("identify", what, v, max);
    let id = field("`id`", Some(id), MAX_ID)?.ok_or_else(|| bad("identify", "`id` is empty".into()))?;
    let email = field("`email`", email, MAX_EMAIL)?;
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(bad("identify", "`email` is not an email address".into()));
    }
    Ok((id, field("`name`", name, MAX_NAME)?, email))
}

/// The name and email address a visitor typed (`contact`), checked: the name
/// optional and short, the address one an email can be sent to.
pub fn check_contact(name: Option<&str>, email: &str) -> Result<(Option<String>, String), ErrorBody> {
    let name = text_field("contact", "the name", name, MAX_NAME)?;
    let email = crate::mail::address(email).map_err(|m| bad("contact", m))?;
    Ok((name, email))
}

/// Whether `signature` is the hex HMAC-SHA256 of `id` with `secret` (compared in constant time).
pub fn signed(secret: &str, id: &str, signature: &str) -> bool {
    let (Ok(sig), Ok(mut mac)) = (hex::decode(signature.trim()), Hmac::<Sha256>::new_from_slice(secret.as_bytes())) else {
        return false;
    };
    mac.update(id.as_bytes());
    !secret.is_empty() && mac.verify_slice(&sig).is_ok()
}

/// Stores who the site says the visitor is, verified if signed right.
pub async fn identify(
    state: &AppState,
    site_id: i64,
    visitor_id: &str,
    claim: (String, Option<String>, Option<String>),
    signature: Option<&str>,
) -> Result<Identity, StorageError> {
    let (id, name, email) = claim;
    let secret = state.db.identity_secret(site_id, &crate::auth::new_token()).await?.unwrap_or_default();
    let verified = signature.is_some_and(|s| signed(&secret, &id, s));
    let identity = Identity { id, name, email, verified };
    state.db.set_identity(visitor_id, &identity).await?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_signature_of_the_same_id_verifies() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"user-42");
        let good = hex::encode(mac.finalize().into_bytes());
        assert!(signed("s3cret", "user-42", &good));
        assert!(signed("s3cret", "user-42", &good.to_uppercase()), "hex in either case");
        assert!(!signed("s3cret", "user-43", &good), "another id");
        assert!(!signed("other", "user-42", &good), "another secret");
        assert!(!signed("", "user-42", &good), "no secret signs nothing");
        assert!(!signed("s3cret", "user-42", &good[..62]), "cut short");
        assert!(!signed("s3cret", "user-42", "not hex"));
    }

    #[test]
    fn claims_are_checked_and_trimmed() {
        assert_eq!(check(" 42 ", Some(" Anna "), Some("")).unwrap(), ("42".into(), Some("Anna".into()), None));
        assert!(check("", None, None).unwrap_err().message.contains("empty"));
        assert!(check("1", None, Some("nope")).unwrap_err().message.contains("email"));
        assert!(check(&"x".repeat(129), None, None).unwrap_err().message.contains("128"));
        assert!(check("1", Some("a\nb"), None).unwrap_err().message.contains("control"));
    }
}
