//! Console accounts: argon2id password hashes, session tokens (only their
//! hashes are stored), and the login rate limiter.

mod rate_limit;
pub mod revoke;

pub use rate_limit::{Attempt, LoginLimiter};

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
    /// Too many failed logins from this address or for this account.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// Every password check is busy: refused before hashing.
    #[error("the server is busy checking other logins; try again in a second")]
    Busy,
    /// The password was right, but the account is disabled.
    #[error("this account is disabled; ask an admin of this Chatcast to enable it")]
    Disabled,
    /// The change would leave nobody able to administer the server.
    #[error("{0}")]
    LastAdmin(String),
    /// No account has this id or email.
    #[error("{0}")]
    NotFound(String),
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
        Some(user) if user.role == Role::Admin && !user.disabled && verify_password(password, &user.password_hash) => Ok(user),
        Some(user) if user.role == Role::Admin && verify_password(password, &user.password_hash) => {
            // Named in the environment: the operator wants it to work.
            db.set_user_disabled(user.id, false, crate::now_ms()).await?;
            Ok(User { disabled: false, ..user })
        }
        Some(mut user) => {
            // A new password or role: the database ends the account's old sessions.
            let hash = hash_password(password);
            db.update_user(user.id, &hash, Role::Admin).await?;
            db.set_user_disabled(user.id, false, crate::now_ms()).await?;
            user.role = Role::Admin;
            user.password_hash = hash;
            user.disabled = false;
            Ok(user)
        }
        None => match add_user(db, email, password, Role::Admin, None).await {
            // Another node starting at the same moment made it: check it as above.
            Err(AuthError::Storage(StorageError::Conflict(_))) => Box::pin(ensure_admin(db, email, password)).await,
            other => other,
        },
    }
}

/// The name visitors see for an account added without one, from its email:
/// "alice.smith@example.com" → "Alice Smith"; a role mailbox such as
/// "admin@…" → "Support" (a visitor should never read "Admin is typing").
fn default_name(email: &str) -> String {
    const ROLE_MAILBOXES: &[&str] =
        &["admin", "administrator", "root", "support", "help", "info", "hello", "contact", "team", "webmaster", "office"];
    let local = email.split('@').next().unwrap_or(email);
    if local.is_empty() || ROLE_MAILBOXES.contains(&local.to_lowercase().as_str()) {
        return "Support".into();
    }
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

/// How long a browser that logged in stays a known device of the account.
const DEVICE_TTL_MS: i64 = 90 * 24 * 3_600_000;

/// The threads that check passwords: a fixed few (the pool's size) for the
/// process's life. A check allocates ~19 MiB; run on whatever blocking thread
/// comes next, each freed block may stay with the allocator arena of a thread
/// that never runs a check again. Here at most `n` threads ever hold one.
struct Hashers {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl Hashers {
    fn new(n: usize) -> Self {
        let (jobs, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..n.max(1) {
            let rx = rx.clone();
            // The threads end when the sender (this pool) is dropped.
            let spawned = std::thread::Builder::new().name(format!("chatcast-hash-{i}")).spawn(move || {
                loop {
                    let job = rx.lock().unwrap().recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-check thread");
            }
        }
        Hashers { jobs }
    }

    /// Runs `f` on one of the threads; `None` if none is left.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .ok()?;
        rx.await.ok()
    }
}

/// Password checks running at once: argon2 takes ~19 MiB and tens of
/// milliseconds of a core each. Beyond `permits` running and as many again
/// waiting (each for at most a second), a login is refused before hashing.
struct Verifier {
    hashers: Hashers,
    permits: Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
    /// Client addresses with a check under way: one at a time each, so that
    /// one address cannot hold every hasher while others wait.
    busy: Arc<std::sync::Mutex<std::collections::HashSet<std::net::IpAddr>>>,
}

/// Frees a client address's place in [`Verifier::busy`] when dropped.
struct AddressTurn(Arc<std::sync::Mutex<std::collections::HashSet<std::net::IpAddr>>>, std::net::IpAddr);

impl Drop for AddressTurn {
    fn drop(&mut self) {
        self.0.lock().unwrap().remove(&self.1);
    }
}

impl Verifier {
    fn new(permits: usize) -> Self {
        Verifier {
            hashers: Hashers::new(permits),
            permits: Arc::new(tokio::sync::Semaphore::new(permits.max(1))),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            max_waiting: permits.max(1),
            busy: Arc::default(),
        }
    }

    async fn check(&self, ip: std::net::IpAddr, password: String, phc: String) -> Result<bool, AuthError> {
        use std::sync::atomic::Ordering;
        if !self.busy.lock().unwrap().insert(ip) {
            return Err(AuthError::Busy);
        }
        let turn = AddressTurn(self.busy.clone(), ip);
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(AuthError::Busy);
                }
                let got = tokio::time::timeout(std::time::Duration::from_secs(1), self.permits.clone().acquire_owned()).await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                match got {
                    Ok(Ok(p)) => p,
                    _ => return Err(AuthError::Busy),
                }
            }
        };
        // Off the async workers; the permit is held until the hash is done.
        let ok = self
            .hashers
            .run(move || {
                let _held = (permit, turn);
                verify_password(&password, &phc)
            })
            .await;
        ok.ok_or(AuthError::Busy)
    }
}

/// A login that succeeded.
pub struct LoggedIn {
    /// The session token for the cookie.
    pub token: String,
    /// Whose.
    pub user: User,
    /// A new device token for the cookie, when the browser had none for this account.
    pub device_token: Option<String>,
}

/// Where a login came from.
pub struct Client<'a> {
    /// The client address (behind trusted proxies: the one they report).
    pub ip: std::net::IpAddr,
    /// The browser's user agent.
    pub user_agent: &'a str,
    /// The device token its cookie holds, if any.
    pub device_token: Option<&'a str>,
}

/// Logins and sessions over a [`Database`].
#[derive(Clone)]
pub struct Sessions {
    db: Arc<dyn Database>,
    limiter: Arc<LoginLimiter>,
    /// The cluster, which counts login attempts across nodes too.
    engine: Arc<dyn crate::engine::Engine>,
    limits: (u32, u32),
    verifier: Arc<Verifier>,
    ttl_ms: i64,
}

impl Sessions {
    /// Sessions that last `ttl_hours`; `per_address` and `per_account` attempts that do not
    /// succeed are allowed per minute; `hashers` password checks run at once.
    /// `engine` counts the attempts of every node together.
    pub fn new(
        db: Arc<dyn Database>,
        engine: Arc<dyn crate::engine::Engine>,
        ttl_hours: u64,
        (per_address, per_account): (u32, u32),
        hashers: usize,
    ) -> Self {
        Sessions {
            db,
            limiter: Arc::new(LoginLimiter::new(per_address, per_account)),
            engine,
            limits: (per_address, per_account),
            verifier: Arc::new(Verifier::new(hashers)),
            ttl_ms: ttl_hours as i64 * 3_600_000,
        }
    }

    /// Checks the credentials; on success makes a session (and, for a browser
    /// new to the account, a device token).
    pub async fn login(&self, client: Client<'_>, email: &str, password: &str) -> Result<LoggedIn, AuthError> {
        let now = crate::now_ms();
        let user = self.db.user_by_email(email.trim()).await?;
        let known_device = match (client.device_token, &user) {
            (Some(t), Some(u)) => self.db.device_user(&token_hash(t), now).await? == Some(u.id),
            _ => false,
        };
        let attempt = match self.limiter.begin(client.ip, email, known_device) {
            Ok(a) => a,
            Err(e) => {
                metrics::counter!("chatcast_logins_total", "result" => "rate_limited").increment(1);
                return Err(e);
            }
        };
        // This node let it through; the cluster counts every node's attempts.
        let (address, account) = (client.ip.to_string(), email.trim().to_lowercase());
        let shared = if known_device {
            None
        } else {
            match self.engine.login_attempt(&address, &account, self.limits.0, self.limits.1).await {
                Ok(id) => id,
                Err(retry_after_secs) => {
                    self.limiter.succeeded(attempt);
                    metrics::counter!("chatcast_logins_total", "result" => "rate_limited").increment(1);
                    return Err(AuthError::RateLimited { retry_after_secs });
                }
            }
        };
        let refund = |attempt| {
            self.limiter.succeeded(attempt);
            if let Some(id) = shared.clone() {
                self.engine.login_refund(&address, &account, id);
            }
        };
        let phc = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = match self.verifier.check(client.ip, password.to_owned(), phc).await {
            Ok(ok) => ok,
            Err(e) => {
                metrics::counter!("chatcast_logins_total", "result" => "busy").increment(1);
                return Err(e);
            }
        };
        match user {
            Some(user) if ok && user.disabled => {
                metrics::counter!("chatcast_logins_total", "result" => "disabled").increment(1);
                refund(attempt);
                Err(AuthError::Disabled)
            }
            Some(user) if ok => {
                metrics::counter!("chatcast_logins_total", "result" => "ok").increment(1);
                refund(attempt);
                let token = new_token();
                let public_id = new_token()[..16].to_owned();
                let ua: String = client.user_agent.chars().filter(|c| !c.is_control()).take(200).collect();
                let ip = client.ip.to_string();
                self.db
                    .create_session(crate::storage::NewSession {
                        token_hash: &token_hash(&token),
                        public_id: &public_id,
                        user_id: user.id,
                        now,
                        expires_at: now + self.ttl_ms,
                        client_ip: &ip,
                        user_agent: &ua,
                    })
                    .await?;
                let device_token = if known_device {
                    None
                } else {
                    let t = new_token();
                    self.db.remember_device(&token_hash(&t), user.id, now, now + DEVICE_TTL_MS).await?;
                    Some(t)
                };
                Ok(LoggedIn { token, user, device_token })
            }
            _ => {
                metrics::counter!("chatcast_logins_total", "result" => "invalid").increment(1);
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

    /// How long a device token lasts, in seconds (its cookie's Max-Age).
    pub fn device_ttl_secs(&self) -> i64 {
        DEVICE_TTL_MS / 1000
    }
}

// ---- account changes, for the command line and the admin API alike

/// What to change about an account.
#[derive(Clone, Debug, Default)]
pub struct AccountChange<'a> {
    /// Disable (true) or enable (false).
    pub disabled: Option<bool>,
    /// A new role.
    pub role: Option<Role>,
    /// A new password.
    pub password: Option<&'a str>,
    /// A new display name.
    pub name: Option<&'a str>,
}

/// The account with this email.
/// The sites a console user sees and acts on: admins every site; a consultant
/// every site or the sites they belong to. Checked by the server for every
/// frame it sends a console and every visitor a console or API call names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteAccess {
    /// Every site.
    All,
    /// These sites only (sorted; maybe none).
    Only(Vec<i64>),
}

impl SiteAccess {
    /// Whether it covers this site.
    pub fn allows(&self, site_id: i64) -> bool {
        match self {
            SiteAccess::All => true,
            SiteAccess::Only(ids) => ids.binary_search(&site_id).is_ok(),
        }
    }

    /// The sites it covers, `None` for every site.
    pub fn ids(&self) -> Option<&[i64]> {
        match self {
            SiteAccess::All => None,
            SiteAccess::Only(ids) => Some(ids),
        }
    }
}

/// What `user` may see and act on now.
pub async fn site_access(db: &dyn Database, user: &User) -> Result<SiteAccess, StorageError> {
    if user.role == Role::Admin {
        return Ok(SiteAccess::All);
    }
    Ok(match db.user_sites(user.id).await? {
        None => SiteAccess::All,
        Some(mut ids) => {
            ids.sort_unstable();
            SiteAccess::Only(ids)
        }
    })
}

pub async fn user_by_email(db: &dyn Database, email: &str) -> Result<User, AuthError> {
    db.user_by_email(email.trim())
        .await?
        .ok_or_else(|| AuthError::NotFound(format!("no account has the email `{}`", crate::validate::shown(email))))
}

/// Applies a change to an account. Disabling, a new role or a new password end
/// its sessions (the database does it, whoever changes it). Refuses what
/// would leave no enabled admin.
pub async fn change_account(db: &dyn Database, user: &User, change: AccountChange<'_>) -> Result<User, AuthError> {
    let stays_admin = change.role.unwrap_or(user.role) == Role::Admin && !change.disabled.unwrap_or(user.disabled);
    if user.role == Role::Admin && !user.disabled && !stays_admin {
        last_admin_check(db, user.id, "disable or demote").await?;
    }
    if let Some(p) = change.password {
        validate::password(p).map_err(AuthError::Invalid)?;
    }
    let name = change.name.map(|n| validate::name("display name", n)).transpose().map_err(AuthError::Invalid)?;
    if let Some(n) = name {
        db.set_user_name(user.id, &n).await?;
    }
    if let Some(p) = change.password {
        db.set_user_password(user.id, &hash_password(p)).await?;
    }
    if let Some(r) = change.role.filter(|r| *r != user.role) {
        db.set_user_role(user.id, r).await?;
    }
    if let Some(d) = change.disabled.filter(|d| *d != user.disabled) {
        db.set_user_disabled(user.id, d, crate::now_ms()).await?;
    }
    db.user(user.id).await?.ok_or_else(|| AuthError::NotFound("the account was removed meanwhile".into()))
}

/// Removes an account (its sessions end). Refuses to remove the last enabled admin.
pub async fn remove_account(db: &dyn Database, user: &User) -> Result<(), AuthError> {
    if user.role == Role::Admin && !user.disabled {
        last_admin_check(db, user.id, "remove").await?;
    }
    db.delete_user(user.id).await?;
    Ok(())
}

async fn last_admin_check(db: &dyn Database, id: i64, what: &str) -> Result<(), AuthError> {
    let others = db.list_users().await?.iter().filter(|u| u.id != id && u.role == Role::Admin && !u.disabled).count();
    if others == 0 {
        return Err(AuthError::LastAdmin(format!(
            "cannot {what} the last enabled admin: nobody could administer this Chatcast; make another account admin first"
        )));
    }
    Ok(())
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
        assert_eq!(default_name("Admin@example.com"), "Support");
        assert_eq!(default_name("@example.com"), "Support");
    }
}
