//! The screen relay: per broadcast, the latest keyframe and the deltas after
//! it (in memory only, never stored), and the viewers it fans frames out to.
//!
//! Frames are forwarded as the visitor sent them — the same `Bytes` to every
//! viewer, never re-parsed beyond the 5-byte header. A viewer whose queue is
//! full is not buffered further and does not slow anyone: it is marked
//! "needs keyframe", skipped, and resynced from the cache once its queue has
//! room for the keyframe and the tail.
//!
//! Memory is bounded in bytes: each viewer's queue (see `transport`), each
//! broadcast's tail, and the relay as a whole. A visitor that keeps sending
//! deltas without the keyframes it is asked for, or a frame that would take the
//! relay past its total, gets [`Published::Overflow`]: the caller ends that
//! broadcast, and nothing of it stays cached.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use chatcast_protocol::screen::{KIND_DELTA, KIND_KEYFRAME, header};

use crate::transport::{ConnId, Peer, QueueFull};

/// Frames smaller than this are copied into an allocation of their own before they are cached.
const COMPACT_BELOW: usize = 64 * 1024;

/// Relay limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The deltas held after a keyframe. Past four times the keyframe (at
    /// least 256 KiB, at most a quarter of this) the agent is asked for a
    /// fresh keyframe, so that a late joiner's catch-up stays small; past it
    /// the agent ignored those requests and the broadcast ends.
    pub max_tail_bytes: usize,
    /// Keyframes and tails of every broadcast together.
    pub max_total_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_tail_bytes: 16 * 1024 * 1024, max_total_bytes: 1024 * 1024 * 1024 }
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

    fn cached_bytes(&self) -> usize {
        self.keyframe.as_ref().map_or(0, Bytes::len) + self.tail_bytes
    }

    /// The tail size past which a fresh keyframe is the cheaper catch-up for a
    /// late joiner: four times the keyframe, at least 256 KiB, at most a
    /// quarter of the bound. Memory per broadcast follows the page's size.
    fn keyframe_wanted_at(&self, max_tail_bytes: usize) -> usize {
        let key = self.keyframe.as_ref().map_or(0, Bytes::len);
        let most = max_tail_bytes / 4;
        (4 * key).clamp(most.min(256 * 1024), most)
    }

    /// Forgets the keyframe and tail; returns the bytes freed.
    fn forget(&mut self) -> usize {
        let freed = self.cached_bytes();
        self.keyframe = None;
        self.tail = Vec::new();
        self.tail_bytes = 0;
        freed
    }

    /// Sends the keyframe and tail to a viewer that has room for all of it.
    fn resync(&self, v: &mut Viewer) -> bool {
        let Some(key) = &self.keyframe else { return false };
        if !v.peer.has_room(self.cached_frames(), self.cached_bytes()) {
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
    /// Not forwarded, and the broadcast's cache is gone: it would go past a
    /// bound (the reason says which). End the broadcast.
    Overflow(&'static str),
}

/// All live broadcasts of this node, by visitor id.
#[derive(Default)]
pub struct Relay {
    limits: Limits,
    channels: Mutex<Channels>,
}

#[derive(Default)]
struct Channels {
    by_visitor: HashMap<String, Channel>,
    /// Sum of every channel's cached bytes.
    cached: usize,
}

impl Relay {
    /// A relay with these limits.
    pub fn new(limits: Limits) -> Self {
        Relay { limits, channels: Mutex::default() }
    }

    /// Takes a frame from the visitor's agent: caches it and forwards it.
    pub fn publish(&self, visitor_id: &str, frame: Bytes) -> Published {
        let Some((kind, _seq)) = header(&frame) else { return Published::Invalid };
        if kind != KIND_KEYFRAME && kind != KIND_DELTA {
            return Published::Invalid;
        }
        // The socket hands out frames as slices of its read buffer: a cached
        // 200-byte delta would keep a whole buffer alive (a soak measured
        // ~1.2 KB held per cached frame). A small frame gets an allocation of
        // its own, so that what the bounds count is what memory holds.
        let frame = if frame.len() < COMPACT_BELOW { Bytes::copy_from_slice(&frame) } else { frame };
        let mut guard = self.channels.lock().unwrap();
        let Channels { by_visitor, cached } = &mut *guard;
        // The channel exists after the first frame: no key allocation per frame.
        if !by_visitor.contains_key(visitor_id) {
            by_visitor.insert(visitor_id.to_owned(), Channel::default());
        }
        let ch = by_visitor.get_mut(visitor_id).expect("inserted above");
        if kind == KIND_DELTA && ch.keyframe.is_none() {
            return Published::NoKeyframe;
        }
        // What the cache holds after this frame.
        let (replaced, tail_after) = match kind {
            KIND_KEYFRAME => (ch.cached_bytes(), 0),
            _ => (0, ch.tail_bytes + frame.len()),
        };
        let overflow = if tail_after > self.limits.max_tail_bytes {
            Some("the page sent more changes than the relay holds without the keyframe it was asked for")
        } else if *cached - replaced + frame.len() > self.limits.max_total_bytes {
            Some("the server holds as many screen frames as it may; this broadcast cannot continue")
        } else {
            None
        };
        if let Some(reason) = overflow {
            *cached -= ch.forget();
            metrics::counter!("chatcast_broadcasts_overflowed_total").increment(1);
            metrics::gauge!("chatcast_relay_cached_bytes").set(*cached as f64);
            return Published::Overflow(reason);
        }
        if kind == KIND_KEYFRAME {
            *cached -= ch.forget();
            ch.keyframe = Some(frame.clone());
        } else {
            ch.tail_bytes += frame.len();
            ch.tail.push(frame.clone());
        }
        *cached += frame.len();
        metrics::gauge!("chatcast_relay_cached_bytes").set(*cached as f64);
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
                    metrics::counter!("chatcast_viewer_resyncs_total").increment(1);
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
        if ch.tail_bytes > ch.keyframe_wanted_at(self.limits.max_tail_bytes) { Published::WantKeyframe } else { Published::Ok }
    }

    /// Adds a viewer; it gets the cached keyframe and tail at once.
    /// Returns whether a keyframe was there to send.
    pub fn watch(&self, visitor_id: &str, peer: Peer) -> bool {
        let mut channels = self.channels.lock().unwrap();
        let ch = channels.by_visitor.entry(visitor_id.to_owned()).or_default();
        let mut v = Viewer { peer, needs_keyframe: true };
        let sent = ch.resync(&mut v);
        ch.viewers.insert(v.peer.id, v);
        sent
    }

    /// Resyncs a viewer that fell behind in any broadcast it watches, if it has room now.
    pub fn resync(&self, conn: ConnId) {
        let mut channels = self.channels.lock().unwrap();
        for ch in channels.by_visitor.values_mut() {
            if let Some(mut v) = ch.viewers.remove(&conn) {
                if v.needs_keyframe {
                    ch.resync(&mut v);
                }
                ch.viewers.insert(conn, v);
            }
        }
    }

    /// Removes a viewer; returns how many remain.
    pub fn unwatch(&self, visitor_id: &str, conn: ConnId) -> usize {
        let mut channels = self.channels.lock().unwrap();
        let Some(ch) = channels.by_visitor.get_mut(visitor_id) else { return 0 };
        ch.viewers.remove(&conn);
        let left = ch.viewers.len();
        // An ended broadcast's last viewer gone: nothing of it stays.
        if left == 0 && ch.keyframe.is_none() {
            channels.by_visitor.remove(visitor_id);
        }
        left
    }

    /// Removes a socket from every broadcast it watched (it closed); returns those visitor ids.
    pub fn unwatch_all(&self, conn: ConnId) -> Vec<String> {
        let mut channels = self.channels.lock().unwrap();
        let watched: Vec<String> =
            channels.by_visitor.iter_mut().filter_map(|(vid, ch)| ch.viewers.remove(&conn).map(|_| vid.clone())).collect();
        channels.by_visitor.retain(|_, ch| !ch.viewers.is_empty() || ch.keyframe.is_some());
        watched
    }

    /// Forgets a broadcast's cached frames (it ended); viewers stay registered
    /// so that a new start reaches them.
    pub fn clear(&self, visitor_id: &str) {
        let mut guard = self.channels.lock().unwrap();
        let Channels { by_visitor, cached } = &mut *guard;
        if let Some(ch) = by_visitor.get_mut(visitor_id) {
            *cached -= ch.forget();
            metrics::gauge!("chatcast_relay_cached_bytes").set(*cached as f64);
            if ch.viewers.is_empty() {
                by_visitor.remove(visitor_id);
            }
        }
    }

    /// Whether a broadcast has viewers on this node.
    pub fn has_viewers(&self, visitor_id: &str) -> bool {
        self.channels.lock().unwrap().by_visitor.get(visitor_id).is_some_and(|ch| !ch.viewers.is_empty())
    }

    /// Bytes held in caches (keyframes and tails), for metrics and tests.
    pub fn cached_bytes(&self) -> usize {
        self.channels.lock().unwrap().cached
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
        // Same allocation: cloned by reference count (a small frame was first
        // copied out of the socket's buffer, once); a large one is the input itself.
        assert_eq!(fa.as_ptr(), fb.as_ptr());
        assert_eq!(fa, f);
        let big = frame(KIND_KEYFRAME, 1, &"k".repeat(COMPACT_BELOW));
        relay.publish("v", big.clone());
        assert_eq!(ia.try_recv().unwrap().as_ptr(), big.as_ptr());
        assert_eq!(ib.try_recv().unwrap().as_ptr(), big.as_ptr());
    }

    #[test]
    fn a_fresh_keyframe_is_asked_for_once_the_tail_outweighs_it() {
        let relay = Relay::new(Limits { max_tail_bytes: 16 << 20, max_total_bytes: 1 << 30 });
        // A small page: asked at 256 KiB of deltas.
        relay.publish("v", frame(KIND_KEYFRAME, 0, "k"));
        let delta = "d".repeat(1019);
        let asked = (1..=400u32).find(|s| relay.publish("v", frame(KIND_DELTA, *s, &delta)) == Published::WantKeyframe);
        assert_eq!(asked, Some(257));
        // A 512 KiB page: at four times that.
        relay.publish("w", frame(KIND_KEYFRAME, 0, &"k".repeat(512 * 1024 - 5)));
        let asked = (1..=3000u32).find(|s| relay.publish("w", frame(KIND_DELTA, *s, &delta)) == Published::WantKeyframe);
        assert_eq!(asked, Some(2049));
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
        let relay = Relay::new(Limits { max_tail_bytes: 400, max_total_bytes: 10_000 });
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

    #[test]
    fn a_tail_past_its_bound_ends_the_broadcast_and_frees_its_cache() {
        let relay = Relay::new(Limits { max_tail_bytes: 1000, max_total_bytes: 1 << 20 });
        let (viewer, mut inbox) = Peer::pair(1024);
        relay.watch("v", viewer);
        relay.publish("v", frame(KIND_KEYFRAME, 0, "k"));
        let mut outcomes = Vec::new();
        for seq in 1..=20 {
            outcomes.push(relay.publish("v", frame(KIND_DELTA, seq, &"d".repeat(95))));
        }
        // Asked for a keyframe first (positive control), then ended once past the bound.
        assert!(outcomes.contains(&Published::WantKeyframe));
        let over = outcomes.iter().position(|o| matches!(o, Published::Overflow(_))).expect("the bound triggers");
        assert_eq!(over, 10, "1000 bytes hold ten 100-byte deltas");
        assert_eq!(relay.cached_bytes(), 0, "nothing of it stays cached");
        assert_eq!(drain(&mut inbox).len(), 11, "the keyframe and the deltas before the bound");
    }

    #[test]
    fn the_relay_total_bounds_every_broadcast_together() {
        let relay = Relay::new(Limits { max_tail_bytes: 1 << 20, max_total_bytes: 1000 });
        assert_eq!(relay.publish("a", frame(KIND_KEYFRAME, 0, &"a".repeat(595))), Published::Ok);
        assert!(matches!(relay.publish("b", frame(KIND_KEYFRAME, 0, &"b".repeat(495))), Published::Overflow(_)));
        assert_eq!(relay.cached_bytes(), 600);
        // A keyframe replaces its broadcast's cache: only the difference counts.
        assert_eq!(relay.publish("a", frame(KIND_KEYFRAME, 1, &"a".repeat(895))), Published::Ok);
        relay.clear("a");
        assert_eq!(relay.publish("b", frame(KIND_KEYFRAME, 0, &"b".repeat(495))), Published::Ok);
        assert_eq!(relay.cached_bytes(), 500);
    }

    #[test]
    fn a_viewer_that_stops_reading_holds_at_most_its_byte_bound() {
        let relay = Relay::default();
        let (viewer, mut inbox) = Peer::pair_bounded(256, 10_000);
        relay.watch("v", viewer);
        for seq in 0..50 {
            relay.publish("v", frame(KIND_KEYFRAME, seq, &"k".repeat(3_000)));
        }
        let held: Vec<Bytes> = drain(&mut inbox);
        let bytes: usize = held.iter().map(Bytes::len).sum();
        assert!(bytes <= 10_000 && held.len() == 3, "three 3 KB keyframes fit in 10 KB: {} frames, {bytes} bytes", held.len());
        // Read up: the next keyframe reaches it again.
        relay.publish("v", frame(KIND_KEYFRAME, 50, "k"));
        assert_eq!(header(&inbox.try_recv().unwrap()).unwrap().1, 50);
    }
}
