//! Limits on what the public widget endpoint lets one client do: visitor
//! sockets open at once and new visitors per client address, and frames and
//! messages per socket. Each refusal says which limit and when to retry
//! (error `rate_limited`, close code 4029 where the socket ends).
//!
//! Rates are token buckets: a burst is allowed, then a steady rate, so a
//! person typing fast (or a widget resending its outbox after a reconnect)
//! is never limited while a script sending as fast as it can is, at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Settings;

/// Keys kept before full buckets are swept (an attacker rotating addresses).
const MAX_KEYS: usize = 100_000;

/// A token bucket: `burst` tokens, refilled at `per_minute` a minute.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A rate: how many at once, and how many a minute after that.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    /// Allowed at once.
    pub burst: u32,
    /// Allowed a minute, sustained.
    pub per_minute: u32,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: Rate) -> Self {
        Bucket { tokens: f64::from(rate.burst.max(1)), last: Instant::now() }
    }

    /// Takes a token, or says how long until one is back.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let per_sec = f64::from(rate.per_minute) / 60.0;
        let burst = f64::from(rate.burst.max(1));
        self.tokens = (self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * per_sec).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = if per_sec > 0.0 { (1.0 - self.tokens) / per_sec } else { 3600.0 };
        Err(Duration::from_secs_f64(wait.min(3600.0)))
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let per_sec = f64::from(rate.per_minute) / 60.0;
        self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * per_sec >= f64::from(rate.burst.max(1))
    }
}

/// One bucket per client address.
pub struct AddressRate {
    rate: Rate,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl AddressRate {
    /// Buckets of this rate.
    pub fn new(rate: Rate) -> Self {
        AddressRate { rate, buckets: Mutex::default() }
    }

    /// Takes a token for `ip`, or says how long until one is back.
    pub fn take(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap();
        if map.len() >= MAX_KEYS {
            let rate = self.rate;
            map.retain(|_, b| !b.is_full(rate, now));
        }
        map.entry(ip).or_insert_with(|| Bucket::new(self.rate)).take(self.rate, now)
    }
}

/// How many sockets each client address holds open, bounded.
pub struct AddressSlots {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open socket of an address; its place is given back when dropped.
pub struct Slot {
    /// The client address.
    pub ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressSlots {
    /// At most `max` at once per address.
    pub fn new(max: usize) -> Self {
        AddressSlots { max: max.max(1), open: Arc::default() }
    }

    /// A place for one more socket of `ip`, if it has fewer than the most.
    pub fn take(&self, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap();
        let n = open.entry(ip).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot { ip, open: self.open.clone() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap();
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The widget endpoint's limits, shared by every visitor socket.
pub struct VisitorLimits {
    /// Visitor sockets open at once per address.
    pub sockets: AddressSlots,
    /// New visitors (first `hello` without a known token) per address.
    pub new_visitors: AddressRate,
    /// Text and binary frames per socket; past it the socket is closed (4029).
    pub frames: Rate,
    /// Chat messages per socket; past it a message is refused (`rate_limited`) and not stored.
    pub messages: Rate,
}

impl VisitorLimits {
    /// The limits the settings give.
    pub fn from_settings(s: &Settings) -> Self {
        VisitorLimits {
            sockets: AddressSlots::new(s.visitor_sockets_per_address),
            new_visitors: AddressRate::new(Rate {
                burst: s.new_visitors_per_address_per_minute,
                per_minute: s.new_visitors_per_address_per_minute,
            }),
            frames: Rate { burst: s.visitor_frames_burst, per_minute: s.visitor_frames_per_minute },
            messages: Rate { burst: s.visitor_messages_burst, per_minute: s.visitor_messages_per_minute },
        }
    }
}

/// "2 s" or "3 min", rounded up, for messages.
pub fn wait_text(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    if s < 120 { format!("{} s", s.max(1)) } else { format!("{} min", s.div_ceil(60)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let rate = Rate { burst: 3, per_minute: 60 };
        let mut b = Bucket::new(rate);
        let t = Instant::now();
        for _ in 0..3 {
            b.take(rate, t).unwrap();
        }
        let wait = b.take(rate, t).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        b.take(rate, t + Duration::from_secs(1)).expect("one a second after that");
        assert!(b.take(rate, t + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn slots_are_per_address_and_given_back() {
        let slots = AddressSlots::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let (s1, s2) = (slots.take(a).unwrap(), slots.take(a).unwrap());
        assert!(slots.take(a).is_none());
        assert!(slots.take("10.0.0.2".parse().unwrap()).is_some(), "another address is not affected");
        drop(s1);
        assert!(slots.take(a).is_some());
        drop(s2);
    }
}
