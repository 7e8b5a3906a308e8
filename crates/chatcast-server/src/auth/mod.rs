//! Console accounts: argon2id password hashes, session tokens (only their
//! hashes are stored), and the login rate limiter.

mod rate_limit;

pub use rate_limit::LoginLimiter;

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::storage::{Database, Role, StorageError, User};
use crate::validate;

/// Why a login or account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong email or password — deliberately not saying which.
    #[error("email or password is incorrect")]
    InvalidCredentials,
    /// Too many failed logins from this address.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// An input was not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

/// Checks a password against a PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so that the answer
/// takes as long as for a known email with a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password("chatcast-timing-equalizer"));

/// A fresh random secret (session or visitor token): 32 bytes, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The stored form of a token: its SHA-256, hex. Tokens are random, so no salt is needed.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates an account (the `user add` command and the admin API).
pub async fn add_user(db: &dyn Database, email: &str, password: &str, role: Role, name: Option<&str>) -> Result<User, AuthError> {
    let email = validate::email(email).map_err(AuthError::Invalid)?;
    validate::password(password).map_err(AuthError::Invalid)?;
    let name = match name {
        Some(n) => validate::name("display name", n).map_err(AuthError::Invalid)?,
        None => default_name(&email),
    };
    Ok(db.create_user(&email, &name, &hash_password(password), role).await?)
}

/// Makes sure an admin account with this email and password exists
/// (the `CHATCAST_ADMIN_EMAIL` / `CHATCAST_ADMIN_PASSWORD` bootstrap).
pub async fn ensure_admin(db: &dyn Database, email: &str, password: &str) -> Result<User, AuthError> {
    match db.user_by_email(email).await? {
        Some(user) if user.role == Role::Admin && verify_password(password, &user.password_hash) => Ok(user),
        Some(mut user) => {
            let hash = hash_password(password);
            db.update_user(user.id, &hash, Role::Admin).await?;
            user.role = Role::Admin;
            user.password_hash = hash;
            Ok(user)
        }
        None => add_user(db, email, password, Role::Admin, None).await,
    }
}

/// "alice.smith@example.com" → "Alice Smith".
fn default_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    local
        .split(['.', '_', '-', '+'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Logins and sessions over a [`Database`].
#[derive(Clone)]
pub struct Sessions {
    db: Arc<dyn Database>,
    limiter: Arc<LoginLimiter>,
    ttl_ms: i64,
}

impl Sessions {
    /// Sessions that last `ttl_hours`, with `failures_per_minute` failed logins allowed per address.
    pub fn new(db: Arc<dyn Database>, ttl_hours: u64, failures_per_minute: u32) -> Self {
        Sessions { db, limiter: Arc::new(LoginLimiter::new(failures_per_minute)), ttl_ms: ttl_hours as i64 * 3_600_000 }
    }

    /// Checks the credentials; on success returns a new session token and its account.
    pub async fn login(&self, client: std::net::IpAddr, email: &str, password: &str) -> Result<(String, User), AuthError> {
        if let Err(e) = self.limiter.check(client) {
            metrics::counter!("chatcast_logins_total", "result" => "rate_limited").increment(1);
            return Err(e);
        }
        let user = self.db.user_by_email(email.trim()).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
        let password = password.to_owned();
        // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
        match user {
            Some(user) if ok => {
                metrics::counter!("chatcast_logins_total", "result" => "ok").increment(1);
                self.limiter.succeeded(client);
                let token = new_token();
                self.db.create_session(&token_hash(&token), user.id, crate::now_ms() + self.ttl_ms).await?;
                Ok((token, user))
            }
            _ => {
                metrics::counter!("chatcast_logins_total", "result" => "invalid").increment(1);
                self.limiter.failed(client);
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// The account behind a session token, if the session is valid.
    pub async fn user(&self, token: &str) -> Result<Option<User>, AuthError> {
        Ok(self.db.session_user(&token_hash(token), crate::now_ms()).await?)
    }

    /// Ends a session.
    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        Ok(self.db.delete_session(&token_hash(token)).await?)
    }

    /// How long a session lasts, in seconds (the cookie's Max-Age).
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_ms / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn names_from_emails() {
        assert_eq!(default_name("alice.smith@example.com"), "Alice Smith");
        assert_eq!(default_name("bob@x"), "Bob");
    }
}
