//! The engine: what nodes share. The [`crate::hub`] keeps this node's sockets
//! and delivers to them; the engine carries what must also reach the sockets
//! of other nodes (fan-out), and says who is online on other nodes (presence).
//!
//! Two implementations, side by side:
//! - [`memory::MemoryEngine`]: one node, nothing to share (the default);
//! - [`redis::RedisEngine`] (`--redis-url`): every node publishes to one Redis
//!   channel and delivers what the others published; each node heartbeats and
//!   keeps its visitors in a Redis hash that expires with it.
//!
//! What crosses nodes is an [`Envelope`]: a [`Target`] and a frame already
//! serialized for the browser. It is encoded once by the publishing node and
//! decoded down to its target by each receiver; the frame itself is never re-parsed.

pub mod memory;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use chatcast_protocol::VisitorInfo;

use crate::transport::ConnId;

/// A process in the cluster: random at start, so ids never repeat across restarts.
pub type NodeId = u64;

/// A new node id.
pub fn new_node_id() -> NodeId {
    // Zero stays free to mean "no node".
    rand::random::<u64>().max(1)
}

/// A socket anywhere in the cluster: its node and that node's connection id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketRef {
    /// The node that holds the socket.
    pub node: NodeId,
    /// The connection on that node.
    pub conn: ConnId,
}

/// The sites a node has a consultant's console for: every site (an admin,
/// or a consultant of every site), or these. Visitors of a covered site can be
/// answered live; the others are asked for an email address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// A console that covers every site is open.
    pub all: bool,
    /// The sites covered one by one.
    pub sites: std::collections::BTreeSet<i64>,
}

impl Coverage {
    /// Whether a consultant of this site is online.
    pub fn covers(&self, site_id: i64) -> bool {
        self.all || self.sites.contains(&site_id)
    }

    /// Adds what a console of these sites covers.
    pub fn add(&mut self, access: &crate::auth::SiteAccess) {
        match access.ids() {
            None => self.all = true,
            Some(ids) => self.sites.extend(ids),
        }
    }

    /// Adds what another node covers.
    pub fn merge(&mut self, other: Coverage) {
        self.all |= other.all;
        self.sites.extend(other.sites);
    }

    /// As stored between nodes: `*`, or site ids separated by commas.
    pub fn encode(&self) -> String {
        if self.all {
            return "*".into();
        }
        self.sites.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    }

    /// The inverse of [`Coverage::encode`]; what does not read as a site id is skipped.
    pub fn decode(s: &str) -> Coverage {
        if s == "*" {
            return Coverage { all: true, sites: Default::default() };
        }
        Coverage { all: false, sites: s.split(',').filter_map(|id| id.parse().ok()).collect() }
    }
}

/// Whom a frame is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every console socket whose user works on this site.
    Consoles(i64),
    /// Every console socket of one account.
    User(i64),
    /// Every tab of a visitor, except one (the tab that sent it).
    Visitor {
        /// The visitor.
        visitor_id: String,
        /// The socket that is not sent the frame.
        except: Option<SocketRef>,
    },
    /// One node, or every node (0): the frame is a command for it (see
    /// [`crate::consent::cluster::NodeCommand`]), not for a browser.
    Node(NodeId),
    /// The node that runs a broadcast: the frame is a screen frame its tab
    /// sent through a screen socket that reached another node.
    Screen {
        /// The node that runs the broadcast.
        node: NodeId,
        /// The broadcasting visitor.
        visitor_id: String,
        /// The screen token the socket was opened with.
        token: String,
    },
}

/// A frame on its way to a [`Target`], published by `origin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The node that published it (and delivered it to its own sockets already).
    pub origin: NodeId,
    /// Whom it is for.
    pub target: Target,
    /// The frame, as the browser gets it.
    pub frame: Bytes,
}

/// Why bytes from another node are not an envelope.
#[derive(Debug, thiserror::Error)]
#[error("not an engine envelope: {0}")]
pub struct BadEnvelope(&'static str);

const VERSION: u8 = 1;

impl Envelope {
    /// The envelope as bytes for the wire between nodes.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(32 + self.frame.len());
        b.put_u8(VERSION);
        b.put_u64(self.origin);
        match &self.target {
            Target::Consoles(site) => {
                // Not tag 1 (every console, before sites were checked): a node
                // that still reads that refuses this as unknown instead of misreading it.
                b.put_u8(6);
                b.put_i64(*site);
            }
            Target::User(id) => {
                b.put_u8(2);
                b.put_i64(*id);
            }
            Target::Visitor { visitor_id, except } => {
                b.put_u8(3);
                put_str(&mut b, visitor_id);
                put_socket(&mut b, *except);
            }
            Target::Node(n) => {
                b.put_u8(4);
                b.put_u64(*n);
            }
            Target::Screen { node, visitor_id, token } => {
                b.put_u8(5);
                b.put_u64(*node);
                put_str(&mut b, visitor_id);
                put_str(&mut b, token);
            }
        }
        b.put_slice(&self.frame);
        b.freeze()
    }

    /// Reads an envelope; the frame is a slice of `bytes`, not a copy.
    pub fn decode(mut bytes: Bytes) -> Result<Envelope, BadEnvelope> {
        let need = |b: &Bytes, n: usize| if b.remaining() < n { Err(BadEnvelope("truncated")) } else { Ok(()) };
        need(&bytes, 10)?;
        if bytes.get_u8() != VERSION {
            return Err(BadEnvelope("unknown version"));
        }
        let origin = bytes.get_u64();
        let target = match bytes.get_u8() {
            6 => {
                need(&bytes, 8)?;
                Target::Consoles(bytes.get_i64())
            }
            2 => {
                need(&bytes, 8)?;
                Target::User(bytes.get_i64())
            }
            3 => Target::Visitor { visitor_id: get_str(&mut bytes)?, except: get_socket(&mut bytes)? },
            4 => {
                need(&bytes, 8)?;
                Target::Node(bytes.get_u64())
            }
            5 => {
                need(&bytes, 8)?;
                let node = bytes.get_u64();
                Target::Screen { node, visitor_id: get_str(&mut bytes)?, token: get_str(&mut bytes)? }
            }
            _ => return Err(BadEnvelope("unknown target")),
        };
        Ok(Envelope { origin, target, frame: bytes })
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    let s = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    b.put_u16(s.len() as u16);
    b.put_slice(s);
}

fn get_str(b: &mut Bytes) -> Result<String, BadEnvelope> {
    if b.remaining() < 2 {
        return Err(BadEnvelope("truncated"));
    }
    let n = b.get_u16() as usize;
    if b.remaining() < n {
        return Err(BadEnvelope("truncated"));
    }
    String::from_utf8(b.split_to(n).to_vec()).map_err(|_| BadEnvelope("an id that is not UTF-8"))
}

fn put_socket(b: &mut BytesMut, s: Option<SocketRef>) {
    // Node 0 is "none".
    let s = s.unwrap_or(SocketRef { node: 0, conn: 0 });
    b.put_u64(s.node);
    b.put_u64(s.conn);
}

fn get_socket(b: &mut Bytes) -> Result<Option<SocketRef>, BadEnvelope> {
    if b.remaining() < 16 {
        return Err(BadEnvelope("truncated"));
    }
    let (node, conn) = (b.get_u64(), b.get_u64());
    Ok((node != 0).then_some(SocketRef { node, conn }))
}

/// What the hub needs from the rest of the cluster. Calls that change shared
/// state return at once (the engine writes in order in the background); a
/// failure to reach the other nodes is logged and counted, never blocks a socket.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// This node's id.
    fn node(&self) -> NodeId;

    /// Sends an envelope to every other node (the publisher has delivered it to its own sockets).
    fn publish(&self, envelope: Envelope);

    /// This node's view of a visitor it has tabs of: its list entry, for other nodes' consoles.
    fn visitor_here(&self, info: &VisitorInfo);

    /// This node has no tab of the visitor any more.
    fn visitor_gone(&self, visitor_id: &str);

    /// Entries of the visitors online on other live nodes (a visitor with tabs
    /// on several nodes appears once per node).
    async fn online_elsewhere(&self) -> Vec<VisitorInfo>;

    /// The sites this node has consoles for now (written for other nodes to read).
    fn support_here(&self, coverage: &Coverage);

    /// The sites other live nodes have consoles for.
    async fn support_elsewhere(&self) -> Coverage;

    /// Whether another live node has a tab of this visitor.
    async fn is_online_elsewhere(&self, visitor_id: &str) -> bool;

    /// The other live node with the visitor's most recent tab, if any: where
    /// its broadcast is asked for and runs.
    async fn node_of(&self, visitor_id: &str) -> Option<NodeId>;

    /// A screen frame this node's relay took from the visitor's broadcasting
    /// tab: kept (a keyframe replaces what was kept) and sent to the nodes
    /// that follow the broadcast.
    fn screen_frame(&self, visitor_id: &str, frame: Bytes, keyframe: bool);

    /// The broadcast's frames are void (it ended, or starts over on a new page).
    fn screen_clear(&self, visitor_id: &str);

    /// This node has viewers of a broadcast that runs on another node: its
    /// kept frames, then each new one, go into this node's relay.
    fn screen_follow(&self, visitor_id: &str);

    /// This node's last viewer of that broadcast left.
    fn screen_unfollow(&self, visitor_id: &str);

    /// Whether another node follows this broadcast (has viewers of it).
    async fn screen_followed_elsewhere(&self, visitor_id: &str) -> bool;

    /// A broadcast went live on this node: its record (the tab's id and
    /// `state`, opaque here) is shared, so that the node the tab reconnects
    /// to — after a page load, or after this node died — can take it over.
    fn broadcast_start(&self, visitor_id: &str, tab_id: &str, state: String);

    /// The live broadcast's state changed (pages seen); ignored unless this node still owns it.
    fn broadcast_update(&self, visitor_id: &str, state: String);

    /// The broadcast ended; its record goes, unless another node owns it now.
    fn broadcast_end(&self, visitor_id: &str);

    /// Takes over the live broadcast of the visitor's tab `tab_id` from the
    /// node that owns it: (that node, the shared state), if there is one.
    async fn broadcast_take(&self, visitor_id: &str, tab_id: &str) -> Option<(NodeId, String)>;

    /// The node that owns a live broadcast of this visitor and its shared
    /// state, if a record is shared (none on a single node).
    async fn broadcast_record(&self, visitor_id: &str) -> Option<(NodeId, String)>;

    /// Whether the broadcast's record still names this node (or no record is shared).
    async fn broadcast_owned(&self, visitor_id: &str) -> bool;

    /// Counts a login attempt for the whole cluster — per client address and
    /// per account, in the last minute — unless one of them is used up (then
    /// `Err(seconds to wait)`). `Ok(Some(id))`: counted; [`Engine::login_refund`]
    /// it if it succeeds. `Ok(None)`: nothing shared to count (the node's own
    /// limiter is the limit), or the shared store did not answer.
    async fn login_attempt(
        &self,
        address: &str,
        account: &str,
        per_address: u32,
        per_account: u32,
    ) -> Result<Option<String>, u64>;

    /// Counts a new visitor from this client address for the whole cluster,
    /// unless the address made `per_minute` in the last minute (then
    /// `Err(seconds to wait)`). One node, or no answer: `Ok` (the node's own limit holds).
    async fn new_visitor(&self, address: &str, per_minute: u32) -> Result<(), u64>;

    /// A counted attempt succeeded: it no longer counts.
    fn login_refund(&self, address: &str, account: &str, id: String);

    /// Starts the engine's background work (receiving, heartbeats); what
    /// arrives for this node's sockets goes to `deliver`.
    fn start(&self, deliver: Arc<dyn Fn(Envelope) + Send + Sync>, ctx: &Background);
}

/// Where an engine's background tasks run and when they stop.
pub struct Background {
    /// The server's task tracker.
    pub tasks: tokio_util::task::TaskTracker,
    /// Cancelled at shutdown.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The hub, for the engine to re-announce this node's visitors (after
    /// the shared store lost them) and to tell a dead node's visitors offline.
    pub hub: Arc<crate::hub::Hub>,
    /// This node's relay, where the frames of followed broadcasts go.
    pub relay: Arc<crate::relay::Relay>,
}

/// Merges entries of the same visitor seen on several nodes: online if any
/// node has a tab; the most recent page and last message.
pub fn merge(entries: impl IntoIterator<Item = VisitorInfo>) -> Vec<VisitorInfo> {
    let mut by_id: std::collections::HashMap<String, VisitorInfo> = std::collections::HashMap::new();
    for e in entries {
        match by_id.get_mut(&e.visitor_id) {
            None => {
                by_id.insert(e.visitor_id.clone(), e);
            }
            Some(have) => {
                let newer_msg = match (&have.last_message, &e.last_message) {
                    (Some(a), Some(b)) => b.at > a.at,
                    (None, Some(_)) => true,
                    _ => false,
                };
                if newer_msg {
                    have.last_message = e.last_message.clone();
                }
                if e.last_seen > have.last_seen {
                    have.last_seen = e.last_seen;
                    have.page_url = e.page_url;
                    have.page_title = e.page_title;
                }
                have.online |= e.online;
                have.online_since = match (have.online_since, e.online_since) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                // A live or pending broadcast runs on one node; that node's state wins.
                if e.screencast != chatcast_protocol::ScreencastState::Idle
                    && e.screencast != chatcast_protocol::ScreencastState::Unavailable
                {
                    have.screencast = e.screencast;
                }
            }
        }
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_survive_the_wire_and_keep_the_frame_as_a_slice() {
        let frame = Bytes::from_static(br#"{"t":"message"}"#);
        let targets = [
            Target::Consoles(42),
            Target::User(-7),
            Target::Visitor { visitor_id: "v_é".into(), except: None },
            Target::Visitor { visitor_id: "v".into(), except: Some(SocketRef { node: 9, conn: 3 }) },
            Target::Visitor { visitor_id: "v".into(), except: Some(SocketRef { node: u64::MAX, conn: 0 }) },
            Target::Node(3),
            Target::Screen { node: 5, visitor_id: "v".into(), token: "v.t".into() },
        ];
        for target in targets {
            let e = Envelope { origin: 42, target, frame: frame.clone() };
            let wire = e.encode();
            let back = Envelope::decode(wire.clone()).unwrap();
            assert_eq!(back, e);
            // The frame is read where it lies in the received bytes.
            assert_eq!(back.frame.as_ptr(), wire[wire.len() - frame.len()..].as_ptr());
        }
    }

    #[test]
    fn a_forged_or_cut_envelope_is_refused_not_misread() {
        let good = Envelope {
            origin: 1,
            target: Target::Visitor { visitor_id: "v".into(), except: Some(SocketRef { node: 2, conn: 3 }) },
            frame: Bytes::new(),
        }
        .encode();
        for n in 0..good.len() {
            assert!(Envelope::decode(good.slice(..n)).is_err(), "cut at {n}");
        }
        let mut wrong = good.to_vec();
        wrong[0] = 9;
        assert!(Envelope::decode(Bytes::from(wrong)).is_err());
        let mut bad_id = good.to_vec();
        bad_id[12] = 0xff;
        assert!(Envelope::decode(Bytes::from(bad_id)).is_err(), "an id that is not UTF-8");
    }

    #[test]
    fn coverage_survives_the_wire() {
        let some = Coverage { all: false, sites: [3, -1, 12].into() };
        assert_eq!(Coverage::decode(&some.encode()), some);
        let all = Coverage { all: true, sites: Default::default() };
        assert_eq!(Coverage::decode(&all.encode()), all);
        assert_eq!(Coverage::decode(""), Coverage::default());
        assert!(!Coverage::decode("").covers(1));
        assert!(Coverage::decode("x,2").covers(2), "a bad id does not spoil the rest");
    }

    #[test]
    fn merged_entries_are_online_if_any_node_says_so() {
        let base = VisitorInfo {
            visitor_id: "v".into(),
            site_id: "1".into(),
            site_name: "s".into(),
            online: false,
            page_url: "/a".into(),
            page_title: "A".into(),
            online_since: None,
            last_seen: 10,
            last_message: None,
            screencast: chatcast_protocol::ScreencastState::Unavailable,
        };
        let other = VisitorInfo {
            online: true,
            page_url: "/b".into(),
            last_seen: 20,
            online_since: Some(15),
            screencast: chatcast_protocol::ScreencastState::Active,
            ..base.clone()
        };
        let merged = merge([base, other]);
        assert_eq!(merged.len(), 1);
        let m = &merged[0];
        assert!(m.online);
        assert_eq!((m.page_url.as_str(), m.last_seen, m.online_since), ("/b", 20, Some(15)));
        assert_eq!(m.screencast, chatcast_protocol::ScreencastState::Active);
    }
}
