//! The screen relay: per broadcast, the latest keyframe and the deltas after
//! it (in memory only, never stored), and the viewers it fans frames out to.
//!
//! Frames are forwarded as the visitor sent them — the same `Bytes` to every
//! viewer, never re-parsed beyond the 5-byte header. A viewer whose queue is
//! full is not buffered further and does not slow anyone: it is marked
//! "needs keyframe", skipped, and resynced from the cache once its queue has
//! room for the keyframe and the tail.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use chatcast_protocol::screen::{KIND_DELTA, KIND_KEYFRAME, header};

use crate::transport::{ConnId, Peer, QueueFull};

/// Relay limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// When the deltas after a keyframe exceed this many bytes, ask the agent
    /// for a fresh keyframe so the cache (and a late joiner's catch-up) stays small.
    pub max_tail_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_tail_bytes: 4 * 1024 * 1024 }
    }
}

struct Viewer {
    peer: Peer,
    needs_keyframe: bool,
}

#[derive(Default)]
struct Channel {
    keyframe: Option<Bytes>,
    tail: Vec<Bytes>,
    tail_bytes: usize,
    viewers: HashMap<ConnId, Viewer>,
}

impl Channel {
    fn cached_frames(&self) -> usize {
        self.keyframe.is_some() as usize + self.tail.len()
    }

    /// Sends the keyframe and tail to a viewer that has room for all of it.
    fn resync(&self, v: &mut Viewer) -> bool {
        let Some(key) = &self.keyframe else { return false };
        if v.peer.capacity() < self.cached_frames() {
            return false;
        }
        let ok = v.peer.send_binary(key.clone()).is_ok() && self.tail.iter().all(|f| v.peer.send_binary(f.clone()).is_ok());
        v.needs_keyframe = !ok;
        ok
    }
}

/// What [`Relay::publish`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Published {
    /// Cached and forwarded.
    Ok,
    /// Cached and forwarded; the tail is large: ask the agent for a keyframe.
    WantKeyframe,
    /// A delta with no keyframe before it: dropped; ask the agent for a keyframe.
    NoKeyframe,
    /// Not a screen frame (bad header or kind).
    Invalid,
}

/// All live broadcasts of this node, by visitor id.
#[derive(Default)]
pub struct Relay {
    limits: Limits,
    channels: Mutex<HashMap<String, Channel>>,
}

impl Relay {
    /// A relay with these limits.
    pub fn new(limits: Limits) -> Self {
        Relay { limits, channels: Mutex::default() }
    }

    /// Takes a frame from the visitor's agent: caches it and forwards it.
    pub fn publish(&self, visitor_id: &str, frame: Bytes) -> Published {
        let Some((kind, _seq)) = header(&frame) else { return Published::Invalid };
        let mut channels = self.channels.lock().unwrap();
        // The channel exists after the first frame: no key allocation per frame.
        if !channels.contains_key(visitor_id) {
            channels.insert(visitor_id.to_owned(), Channel::default());
        }
        let ch = channels.get_mut(visitor_id).expect("inserted above");
        match kind {
            KIND_KEYFRAME => {
                ch.keyframe = Some(frame.clone());
                ch.tail.clear();
                ch.tail_bytes = 0;
            }
            KIND_DELTA if ch.keyframe.is_none() => return Published::NoKeyframe,
            KIND_DELTA => {
                ch.tail_bytes += frame.len();
                ch.tail.push(frame.clone());
            }
            _ => return Published::Invalid,
        }
        let Channel { viewers, .. } = &mut *ch;
        let mut lagging = Vec::new();
        viewers.retain(|id, v| {
            if v.needs_keyframe {
                lagging.push(*id);
                return true;
            }
            match v.peer.send_binary(frame.clone()) {
                Ok(()) => true,
                Err(QueueFull::Full) => {
                    tracing::debug!(viewer = id, "viewer behind; will resync from the keyframe");
                    v.needs_keyframe = true;
                    true
                }
                Err(QueueFull::Closed) => false,
            }
        });
        // Viewers that fell behind earlier catch up from the cache when they have room.
        for id in lagging {
            let mut v = ch.viewers.remove(&id).expect("listed above");
            ch.resync(&mut v);
            ch.viewers.insert(id, v);
        }
        if ch.tail_bytes > self.limits.max_tail_bytes { Published::WantKeyframe } else { Published::Ok }
    }

    /// Adds a viewer; it gets the cached keyframe and tail at once.
    /// Returns whether a keyframe was there to send.
    pub fn watch(&self, visitor_id: &str, peer: Peer) -> bool {
        let mut channels = self.channels.lock().unwrap();
        let ch = channels.entry(visitor_id.to_owned()).or_default();
        let mut v = Viewer { peer, needs_keyframe: true };
        let sent = ch.resync(&mut v);
        ch.viewers.insert(v.peer.id, v);
        sent
    }

    /// Removes a viewer; returns how many remain.
    pub fn unwatch(&self, visitor_id: &str, conn: ConnId) -> usize {
        let mut channels = self.channels.lock().unwrap();
        match channels.get_mut(visitor_id) {
            Some(ch) => {
                ch.viewers.remove(&conn);
                ch.viewers.len()
            }
            None => 0,
        }
    }

    /// Removes a socket from every broadcast it watched (it closed); returns those visitor ids.
    pub fn unwatch_all(&self, conn: ConnId) -> Vec<String> {
        let mut channels = self.channels.lock().unwrap();
        channels.iter_mut().filter_map(|(vid, ch)| ch.viewers.remove(&conn).map(|_| vid.clone())).collect()
    }

    /// Forgets a broadcast's cached frames (it ended); viewers stay registered
    /// so that a new start reaches them.
    pub fn clear(&self, visitor_id: &str) {
        let mut channels = self.channels.lock().unwrap();
        if let Some(ch) = channels.get_mut(visitor_id) {
            ch.keyframe = None;
            ch.tail.clear();
            ch.tail_bytes = 0;
            if ch.viewers.is_empty() {
                channels.remove(visitor_id);
            }
        }
    }

    /// Bytes held in caches (keyframes and tails), for metrics and tests.
    pub fn cached_bytes(&self) -> usize {
        self.channels.lock().unwrap().values().map(|c| c.keyframe.as_ref().map_or(0, Bytes::len) + c.tail_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatcast_protocol::screen::encode;

    fn frame(kind: u8, seq: u32, body: &str) -> Bytes {
        Bytes::from(encode(kind, seq, body.as_bytes()))
    }

    fn drain(inbox: &mut crate::transport::PeerInbox) -> Vec<Bytes> {
        std::iter::from_fn(|| inbox.try_recv()).collect()
    }

    #[test]
    fn a_late_viewer_gets_keyframe_then_tail_in_order() {
        let relay = Relay::default();
        assert_eq!(relay.publish("v", frame(KIND_DELTA, 0, "early")), Published::NoKeyframe);
        relay.publish("v", frame(KIND_KEYFRAME, 1, "k1"));
        relay.publish("v", frame(KIND_DELTA, 2, "d2"));
        relay.publish("v", frame(KIND_KEYFRAME, 3, "k3"));
        relay.publish("v", frame(KIND_DELTA, 4, "d4"));
        relay.publish("v", frame(KIND_DELTA, 5, "d5"));
        let (peer, mut inbox) = Peer::pair(16);
        assert!(relay.watch("v", peer));
        let got = drain(&mut inbox);
        let seqs: Vec<u32> = got.iter().map(|f| header(f).unwrap().1).collect();
        assert_eq!(seqs, [3, 4, 5], "the latest keyframe and only what came after it");
        relay.publish("v", frame(KIND_DELTA, 6, "d6"));
        assert_eq!(header(&drain(&mut inbox)[0]).unwrap().1, 6);
    }

    #[test]
    fn every_viewer_gets_the_same_bytes() {
        let relay = Relay::default();
        let (a, mut ia) = Peer::pair(8);
        let (b, mut ib) = Peer::pair(8);
        relay.watch("v", a);
        relay.watch("v", b);
        let f = frame(KIND_KEYFRAME, 0, "snapshot");
        relay.publish("v", f.clone());
        let (fa, fb) = (ia.try_recv().unwrap(), ib.try_recv().unwrap());
        // Same allocation: serialized once, cloned by reference count.
        assert_eq!(fa.as_ptr(), f.as_ptr());
        assert_eq!(fb.as_ptr(), f.as_ptr());
    }

    #[test]
    fn a_slow_viewer_is_resynced_from_the_keyframe_and_never_slows_others() {
        let relay = Relay::default();
        let (slow, mut slow_in) = Peer::pair(4);
        let (fast, mut fast_in) = Peer::pair(1024);
        relay.watch("v", slow);
        relay.watch("v", fast);
        relay.publish("v", frame(KIND_KEYFRAME, 0, "k"));
        for seq in 1..=100 {
            relay.publish("v", frame(KIND_DELTA, seq, "d"));
        }
        // The fast viewer got everything, in order.
        let fast_seqs: Vec<u32> = drain(&mut fast_in).iter().map(|f| header(f).unwrap().1).collect();
        assert_eq!(fast_seqs, (0..=100).collect::<Vec<_>>());
        // The slow one holds at most its queue: memory per viewer is bounded.
        let slow_got = drain(&mut slow_in);
        assert_eq!(slow_got.len(), 4);
        // Once it has room for keyframe + tail it is resynced from the cache.
        relay.publish("v", frame(KIND_KEYFRAME, 101, "k2"));
        let after: Vec<u32> = drain(&mut slow_in).iter().map(|f| header(f).unwrap().1).collect();
        assert_eq!(after, [101]);
        relay.publish("v", frame(KIND_DELTA, 102, "d"));
        assert_eq!(header(&slow_in.try_recv().unwrap()).unwrap().1, 102, "back to live frames");
    }

    #[test]
    fn a_large_tail_asks_for_a_keyframe_and_clear_forgets_the_cache() {
        let relay = Relay::new(Limits { max_tail_bytes: 100 });
        relay.publish("v", frame(KIND_KEYFRAME, 0, "k"));
        assert_eq!(relay.publish("v", frame(KIND_DELTA, 1, &"x".repeat(50))), Published::Ok);
        assert_eq!(relay.publish("v", frame(KIND_DELTA, 2, &"x".repeat(60))), Published::WantKeyframe);
        assert!(relay.cached_bytes() > 100);
        relay.clear("v");
        assert_eq!(relay.cached_bytes(), 0);
        let (p, _i) = Peer::pair(4);
        assert!(!relay.watch("v", p), "no keyframe after clear");
        assert_eq!(relay.publish("v", frame(7, 3, "?")), Published::Invalid);
    }
}
