//! Failed-login limiting per client address: a sliding one-minute window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AuthError;

const WINDOW: Duration = Duration::from_secs(60);

/// Counts failed logins per address and refuses further attempts past the limit.
pub struct LoginLimiter {
    per_minute: u32,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// Allows `per_minute` failures per address in any 60 s window.
    pub fn new(per_minute: u32) -> Self {
        LoginLimiter { per_minute, failures: Mutex::new(HashMap::new()) }
    }

    /// Refuses an attempt from an address that used up its failures.
    pub fn check(&self, ip: IpAddr) -> Result<(), AuthError> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap();
        let Some(q) = map.get_mut(&ip) else { return Ok(()) };
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.is_empty() {
            map.remove(&ip);
            return Ok(());
        }
        if q.len() as u32 >= self.per_minute {
            let oldest = *q.front().unwrap();
            let retry = WINDOW.saturating_sub(now.duration_since(oldest)).as_secs().max(1);
            return Err(AuthError::RateLimited { retry_after_secs: retry });
        }
        Ok(())
    }

    /// Records a failure.
    pub fn failed(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap();
        // Bound the map: an attacker rotating addresses must not grow it forever.
        if map.len() > 100_000 {
            let now = Instant::now();
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        map.entry(ip).or_default().push_back(Instant::now());
    }

    /// Clears an address's failures after a successful login.
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().unwrap().remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_after_n_failures_per_address() {
        let l = LoginLimiter::new(3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
            l.failed(a);
        }
        assert!(matches!(l.check(a), Err(AuthError::RateLimited { retry_after_secs }) if retry_after_secs > 0));
        assert!(l.check(b).is_ok());
        l.succeeded(a);
        assert!(l.check(a).is_ok());
    }
}
