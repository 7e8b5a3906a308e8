//! Login limits: attempts per client address and per account in a sliding
//! one-minute window, counted when an attempt **starts** (so that a hundred
//! concurrent guesses cannot all pass a check made before any of them
//! failed), refunded when it succeeds. A success never wipes the failures
//! before it.
//!
//! A browser that logged in to an account before (a known device, see
//! [`super::Sessions::login`]) passes both limits for that account: an
//! attacker hammering the account from elsewhere, or from the same office
//! network, cannot lock its real user out.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AuthError;

const WINDOW: Duration = Duration::from_secs(60);
/// Keys kept per window before old ones are swept (an attacker rotating addresses or emails).
const MAX_KEYS: usize = 100_000;

/// Events per key in the last minute.
struct Window<K> {
    per_minute: u32,
    events: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq + Clone> Window<K> {
    fn new(per_minute: u32) -> Self {
        Window { per_minute: per_minute.max(1), events: Mutex::new(HashMap::new()) }
    }

    /// Records an event for `key` unless the key used up its minute; then says when to retry.
    fn try_add(&self, key: &K, now: Instant) -> Result<(), u64> {
        let mut map = self.events.lock().unwrap();
        if map.len() > MAX_KEYS {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let q = map.entry(key.clone()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() as u32 >= self.per_minute {
            let oldest = *q.front().expect("full");
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)).as_secs().max(1));
        }
        q.push_back(now);
        Ok(())
    }

    /// Takes back the event recorded at `at` (the attempt succeeded).
    fn refund(&self, key: &K, at: Instant) {
        let mut map = self.events.lock().unwrap();
        if let Some(q) = map.get_mut(key)
            && let Some(i) = q.iter().rposition(|t| *t == at)
        {
            q.remove(i);
        }
    }
}

/// An attempt that was let through; give it back with [`LoginLimiter::succeeded`].
#[derive(Debug)]
pub struct Attempt {
    ip: IpAddr,
    account: String,
    at: Instant,
    counted: bool,
}

/// Counts login attempts per client address and per account.
pub struct LoginLimiter {
    by_address: Window<IpAddr>,
    by_account: Window<String>,
}

impl LoginLimiter {
    /// Allows `per_address` attempts that did not succeed per client address,
    /// and `per_account` per account, in any 60 s.
    pub fn new(per_address: u32, per_account: u32) -> Self {
        LoginLimiter { by_address: Window::new(per_address), by_account: Window::new(per_account) }
    }

    /// Counts an attempt as it starts, or refuses it. `known_device`: the
    /// browser logged in to this account before; it is not limited.
    pub fn begin(&self, ip: IpAddr, account: &str, known_device: bool) -> Result<Attempt, AuthError> {
        let now = Instant::now();
        let account = account.trim().to_lowercase();
        if known_device {
            return Ok(Attempt { ip, account, at: now, counted: false });
        }
        self.by_address.try_add(&ip, now).map_err(|retry_after_secs| AuthError::RateLimited { retry_after_secs })?;
        if let Err(retry_after_secs) = self.by_account.try_add(&account, now) {
            self.by_address.refund(&ip, now);
            return Err(AuthError::RateLimited { retry_after_secs });
        }
        Ok(Attempt { ip, account, at: now, counted: true })
    }

    /// The attempt succeeded: it no longer counts (the failures before it still do).
    pub fn succeeded(&self, a: Attempt) {
        if a.counted {
            self.by_address.refund(&a.ip, a.at);
            self.by_account.refund(&a.account, a.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn attempts_count_when_they_start_per_address() {
        let l = LoginLimiter::new(3, 100);
        // Three concurrent attempts pass; the fourth is refused before any of them ended.
        let a: Vec<_> = (0..3).map(|_| l.begin(ip("10.0.0.1"), "x@y", false).unwrap()).collect();
        assert!(
            matches!(l.begin(ip("10.0.0.1"), "x@y", false), Err(AuthError::RateLimited { retry_after_secs }) if retry_after_secs > 0)
        );
        assert!(l.begin(ip("10.0.0.2"), "x@y", false).is_ok(), "another address is not affected");
        drop(a);
    }

    #[test]
    fn a_success_refunds_only_itself() {
        let l = LoginLimiter::new(3, 100);
        l.begin(ip("10.0.0.1"), "a@b", false).unwrap(); // a failure
        l.begin(ip("10.0.0.1"), "a@b", false).unwrap(); // a failure
        let ok = l.begin(ip("10.0.0.1"), "a@b", false).unwrap();
        l.succeeded(ok);
        l.begin(ip("10.0.0.1"), "a@b", false).unwrap(); // room for one more
        assert!(l.begin(ip("10.0.0.1"), "a@b", false).is_err(), "the two failures before the success still count");
    }

    #[test]
    fn an_account_limit_from_many_addresses_spares_the_known_device() {
        let l = LoginLimiter::new(100, 5);
        for i in 0..5 {
            l.begin(ip(&format!("10.0.0.{i}")), "Alice@Example.com", false).unwrap();
        }
        assert!(l.begin(ip("10.0.1.1"), "alice@example.com", false).is_err(), "the account is under attack");
        assert!(l.begin(ip("10.0.1.1"), "alice@example.com", true).is_ok(), "its real user's browser still gets in");
        assert!(l.begin(ip("10.0.1.1"), "bob@example.com", false).is_ok(), "other accounts are not affected");
    }
}
