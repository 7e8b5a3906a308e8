//! Screen frame bodies: rrweb-like JSON with the send time in it, so that the
//! viewer (in this same process, on the same clock) can tell how long the
//! frame took through the server.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The clock every send time is read from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the generator started.
pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// An `Instant` back from [`now_ns`] nanoseconds.
pub fn instant_of(ns: u64) -> Instant {
    epoch() + Duration::from_nanos(ns)
}

/// What precedes the 20 digits of the send time in every body.
const MARK: &[u8] = br#""bench/sent","payload":""#;
const PREFIX: &str = r#"[{"type":5,"data":{"tag":"bench/sent","payload":""#;
const DIGITS: usize = 20;

/// Bodies of one broadcast: a few variants (so that deflate sees changing
/// content, as with real mouse and mutation events) with a slot for the time.
pub struct Bodies {
    variants: Vec<Vec<u8>>,
}

impl Bodies {
    /// `count` variants of exactly `size` bytes (at least the time stamp's 73), seeded by `seed`.
    pub fn new(size: usize, count: usize, seed: u64) -> Bodies {
        let mut rng = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let variants = (0..count.max(1))
            .map(|_| {
                let mut s = format!("{PREFIX}{}\"}}}}", "0".repeat(DIGITS));
                let mut ts = 1_712_000_000_000u64 + next() % 1_000_000;
                loop {
                    ts += next() % 40;
                    let event = format!(
                        r#",{{"type":3,"data":{{"source":1,"positions":[{{"x":{},"y":{},"id":{},"timeOffset":-{}}}]}},"timestamp":{ts}}}"#,
                        next() % 1280,
                        next() % 800,
                        next() % 4000,
                        next() % 50
                    );
                    // Whole events only: the body stays valid JSON (socket.io parses it).
                    if s.len() + event.len() + 1 > size {
                        break;
                    }
                    s.push_str(&event);
                }
                while s.len() + 1 < size {
                    s.push(' ');
                }
                s.push(']');
                s.into_bytes()
            })
            .collect();
        Bodies { variants }
    }

    /// Variant `n` (cycling) with `sent_ns` in its time slot, appended to `out`.
    pub fn write(&self, n: u32, sent_ns: u64, out: &mut Vec<u8>) {
        let v = &self.variants[n as usize % self.variants.len()];
        let at = out.len() + PREFIX.len();
        out.extend_from_slice(v);
        let mut n = sent_ns;
        for d in out[at..at + DIGITS].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
}

/// The send time stamped in a payload (a screen frame or a socket.io event).
pub fn sent_ns(payload: &[u8]) -> Option<u64> {
    let i = payload.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let digits = payload.get(i..i + DIGITS)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_size_asked_and_give_back_their_time() {
        for size in [80, 200, 1000] {
            let b = Bodies::new(size, 4, 7);
            let mut out = vec![1, 2, 3, 4, 5];
            b.write(3, 123_456_789, &mut out);
            assert_eq!(out.len(), 5 + size);
            assert_eq!(sent_ns(&out), Some(123_456_789));
            let json: serde_json::Value = serde_json::from_slice(&out[5..]).expect("valid JSON");
            assert!(json.is_array());
        }
    }
}
