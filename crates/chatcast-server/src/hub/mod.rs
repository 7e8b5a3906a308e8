//! The hub: this node's sockets. Visitors are online while at least one of
//! their tabs has a socket; consoles are the logged-in consultants' sockets.
//! Frames arrive here already serialized and are fanned out as the same
//! `Bytes` to every local peer that should see them, and handed to the
//! [`crate::engine`] for the peers of other nodes. What this node knows of its
//! visitors (their list entries) goes to the engine too, so that the consoles
//! of every node see everyone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chatcast_protocol::{ChatMessage, PageInfo, ScreencastState, VisitorInfo};

use crate::auth::SiteAccess;
use crate::engine::{Engine, Envelope, SocketRef, Target};
use crate::transport::{ConnId, Peer};

/// Everyone connected to this node, and the way to everyone else.
pub struct Hub {
    inner: Mutex<Inner>,
    engine: Arc<dyn Engine>,
}

#[derive(Default)]
struct Inner {
    visitors: HashMap<String, OnlineVisitor>,
    consoles: HashMap<ConnId, ConsolePeer>,
}

struct Tab {
    peer: Peer,
    tab_id: Option<String>,
    /// Where this tab is (its URL masked by the site's rule).
    page: PageInfo,
}

struct OnlineVisitor {
    site_id: i64,
    site_name: String,
    /// Connected tabs, oldest first.
    tabs: Vec<Tab>,
    screencast: ScreencastState,
    online_since: i64,
    last_seen: i64,
    page: PageInfo,
    last_message: Option<ChatMessage>,
}

impl OnlineVisitor {
    fn info(&self, visitor_id: &str) -> VisitorInfo {
        VisitorInfo {
            visitor_id: visitor_id.to_owned(),
            site_id: self.site_id.to_string(),
            site_name: self.site_name.clone(),
            online: !self.tabs.is_empty(),
            page_url: self.page.url.clone(),
            page_title: self.page.title.clone(),
            online_since: (!self.tabs.is_empty()).then_some(self.online_since),
            last_seen: self.last_seen,
            last_message: self.last_message.clone(),
            screencast: if self.tabs.is_empty() { ScreencastState::Unavailable } else { self.screencast },
        }
    }
}

struct ConsolePeer {
    user_id: i64,
    /// The sites whose frames it gets (as they were when it connected).
    access: Arc<SiteAccess>,
    /// SHA-256 of the session token the socket was opened with.
    session: String,
    peer: Peer,
}

/// A visitor tab that just said `hello`.
pub struct TabJoin {
    /// The visitor.
    pub visitor_id: String,
    /// Its site.
    pub site_id: i64,
    /// The site's name, for the console list.
    pub site_name: String,
    /// Where the tab is.
    pub page: PageInfo,
    /// The dialog's newest message, for the console list.
    pub last_message: Option<ChatMessage>,
    /// The browser tab's id (kept across the tab's page loads).
    pub tab_id: Option<String>,
}

impl Hub {
    /// A hub with no sockets yet, reaching other nodes through `engine`.
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        Hub { inner: Mutex::default(), engine }
    }

    /// The cluster engine.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// Delivers an envelope another node published to this node's sockets.
    pub fn deliver_local(&self, e: &Envelope) {
        let except = match &e.target {
            Target::Visitor { except: Some(s), .. } if s.node == self.engine.node() => Some(s.conn),
            _ => None,
        };
        match &e.target {
            Target::Consoles(site) => self.local_consoles(*site, &e.frame),
            Target::User(id) => self.local_user(*id, &e.frame),
            Target::Visitor { visitor_id, .. } => self.local_visitor(visitor_id, &e.frame, except),
            // Commands and forwarded screen frames are the caller's to run.
            Target::Node(_) | Target::Screen { .. } => {}
        }
    }

    fn publish(&self, target: Target, frame: &Bytes) {
        self.engine.publish(Envelope { origin: self.engine.node(), target, frame: frame.clone() });
    }

    /// Registers a visitor tab; returns the visitor's list entry to broadcast.
    pub fn visitor_joined(&self, tab: TabJoin, peer: Peer) -> VisitorInfo {
        let now = crate::now_ms();
        let mut inner = self.inner.lock().unwrap();
        let v = inner.visitors.entry(tab.visitor_id.clone()).or_insert_with(|| OnlineVisitor {
            site_id: tab.site_id,
            site_name: tab.site_name,
            tabs: Vec::new(),
            screencast: ScreencastState::Idle,
            online_since: now,
            last_seen: now,
            page: PageInfo::default(),
            last_message: None,
        });
        v.tabs.push(Tab { peer, tab_id: tab.tab_id, page: tab.page.clone() });
        v.page = tab.page;
        v.last_seen = now;
        v.last_message = tab.last_message;
        let info = v.info(&tab.visitor_id);
        metrics::gauge!("chatcast_visitors_online").set(inner.visitors.len() as f64);
        self.engine.visitor_here(&info);
        info
    }

    /// A tab moved to another page; returns the updated entry.
    pub fn visitor_page(&self, visitor_id: &str, conn: ConnId, page: PageInfo) -> Option<VisitorInfo> {
        let mut inner = self.inner.lock().unwrap();
        let v = inner.visitors.get_mut(visitor_id)?;
        if let Some(t) = v.tabs.iter_mut().find(|t| t.peer.id == conn) {
            t.page = page.clone();
        }
        v.page = page;
        v.last_seen = crate::now_ms();
        let info = v.info(visitor_id);
        self.engine.visitor_here(&info);
        Some(info)
    }

    /// A tab's socket closed. Returns the entry (now offline) when it was the
    /// visitor's last tab, `None` while other tabs remain.
    pub fn visitor_left(&self, visitor_id: &str, conn: ConnId) -> Option<VisitorInfo> {
        let mut inner = self.inner.lock().unwrap();
        let v = inner.visitors.get_mut(visitor_id)?;
        v.tabs.retain(|t| t.peer.id != conn);
        if !v.tabs.is_empty() {
            return None;
        }
        v.last_seen = crate::now_ms();
        let info = v.info(visitor_id);
        inner.visitors.remove(visitor_id);
        metrics::gauge!("chatcast_visitors_online").set(inner.visitors.len() as f64);
        self.engine.visitor_gone(visitor_id);
        Some(info)
    }

    /// Notes a dialog's newest message for the list entry.
    pub fn note_message(&self, msg: &ChatMessage) {
        if let Some(v) = self.inner.lock().unwrap().visitors.get_mut(&msg.visitor_id) {
            v.last_message = Some(msg.clone());
            self.engine.visitor_here(&v.info(&msg.visitor_id));
        }
    }

    /// Entries of every visitor online on this node.
    pub fn online_visitors(&self) -> Vec<VisitorInfo> {
        self.inner.lock().unwrap().visitors.iter().map(|(id, v)| v.info(id)).collect()
    }

    /// Sends a frame to every tab of a visitor, on every node, except this node's socket `except`.
    pub fn to_visitor(&self, visitor_id: &str, frame: &Bytes, except: Option<ConnId>) {
        self.local_visitor(visitor_id, frame, except);
        let except = except.map(|conn| SocketRef { node: self.engine.node(), conn });
        self.publish(Target::Visitor { visitor_id: visitor_id.to_owned(), except }, frame);
    }

    fn local_visitor(&self, visitor_id: &str, frame: &Bytes, except: Option<ConnId>) {
        if let Some(v) = self.inner.lock().unwrap().visitors.get(visitor_id) {
            for t in v.tabs.iter().filter(|t| Some(t.peer.id) != except) {
                t.peer.send(frame.clone());
            }
        }
    }

    /// Sends a frame to one tab of a visitor on this node.
    pub fn to_tab(&self, visitor_id: &str, conn: ConnId, frame: &Bytes) {
        if let Some(v) = self.inner.lock().unwrap().visitors.get(visitor_id)
            && let Some(t) = v.tabs.iter().find(|t| t.peer.id == conn)
        {
            t.peer.send(frame.clone());
        }
    }

    /// The visitor's most recently connected tab: its socket and tab id.
    pub fn latest_tab(&self, visitor_id: &str) -> Option<(ConnId, Option<String>)> {
        let inner = self.inner.lock().unwrap();
        let t = inner.visitors.get(visitor_id)?.tabs.last()?;
        Some((t.peer.id, t.tab_id.clone()))
    }

    /// The page one tab of a visitor is on.
    pub fn tab_page(&self, visitor_id: &str, conn: ConnId) -> Option<PageInfo> {
        let inner = self.inner.lock().unwrap();
        inner.visitors.get(visitor_id)?.tabs.iter().find(|t| t.peer.id == conn).map(|t| t.page.clone())
    }

    /// Notes the broadcast state shown in the visitor's list entry.
    pub fn set_screencast(&self, visitor_id: &str, state: ScreencastState) {
        if let Some(v) = self.inner.lock().unwrap().visitors.get_mut(visitor_id) {
            v.screencast = state;
            self.engine.visitor_here(&v.info(visitor_id));
        }
    }

    /// Whether the visitor has a tab connected to this node.
    pub fn is_online(&self, visitor_id: &str) -> bool {
        self.inner.lock().unwrap().visitors.contains_key(visitor_id)
    }

    /// `state`, or `unavailable` when the visitor is offline.
    pub fn offline_aware(&self, visitor_id: &str, state: ScreencastState) -> ScreencastState {
        if self.inner.lock().unwrap().visitors.contains_key(visitor_id) { state } else { ScreencastState::Unavailable }
    }

    /// Registers a console socket opened with the session whose token hashes to `session`.
    pub fn console_joined(&self, user_id: i64, session: String, access: Arc<SiteAccess>, peer: Peer) {
        self.inner.lock().unwrap().consoles.insert(peer.id, ConsolePeer { user_id, access, session, peer });
    }

    /// Every console socket with its user and the sites it was given.
    pub fn console_access(&self) -> Vec<(ConnId, i64, Arc<SiteAccess>)> {
        self.inner.lock().unwrap().consoles.values().map(|c| (c.peer.id, c.user_id, c.access.clone())).collect()
    }

    /// Every console socket with the hash of its session's token.
    pub fn console_sessions(&self) -> Vec<(ConnId, String)> {
        self.inner.lock().unwrap().consoles.values().map(|c| (c.peer.id, c.session.clone())).collect()
    }

    /// Sends `last` to these console sockets, then closes them with `code` and `reason`.
    pub fn close_consoles(&self, conns: &[ConnId], last: &Bytes, code: u16, reason: &str) {
        let inner = self.inner.lock().unwrap();
        for c in conns {
            if let Some(p) = inner.consoles.get(c) {
                p.peer.send(last.clone());
                p.peer.close(code, reason);
            }
        }
    }

    /// Sends `last` to every tab of a visitor whose site is not in `sites`, then
    /// closes it with `code` and `reason`. Returns how many tabs.
    pub fn close_tabs_of_removed_sites(
        &self,
        sites: &std::collections::HashSet<i64>,
        last: &Bytes,
        code: u16,
        reason: &str,
    ) -> usize {
        let inner = self.inner.lock().unwrap();
        let mut n = 0;
        for t in inner.visitors.values().filter(|v| !sites.contains(&v.site_id)).flat_map(|v| &v.tabs) {
            t.peer.send(last.clone());
            t.peer.close(code, reason);
            n += 1;
        }
        n
    }

    /// Closes every socket of this node (visitors' tabs and consoles): they reconnect and reload.
    pub fn close_all(&self, code: u16, reason: &str) {
        let inner = self.inner.lock().unwrap();
        for t in inner.visitors.values().flat_map(|v| &v.tabs) {
            t.peer.close(code, reason);
        }
        for c in inner.consoles.values() {
            c.peer.close(code, reason);
        }
    }

    /// The sites this node's consoles cover.
    pub fn coverage(&self) -> crate::engine::Coverage {
        let mut c = crate::engine::Coverage::default();
        for p in self.inner.lock().unwrap().consoles.values() {
            c.add(&p.access);
        }
        c
    }

    /// The sites this node has visitors' tabs of.
    pub fn visitor_sites(&self) -> std::collections::BTreeSet<i64> {
        self.inner.lock().unwrap().visitors.values().filter(|v| !v.tabs.is_empty()).map(|v| v.site_id).collect()
    }

    /// Sends a frame to every tab on this node of every visitor of a site.
    pub fn to_site_visitors_here(&self, site_id: i64, frame: &Bytes) {
        let inner = self.inner.lock().unwrap();
        for t in inner.visitors.values().filter(|v| v.site_id == site_id).flat_map(|v| &v.tabs) {
            t.peer.send(frame.clone());
        }
    }

    /// Forgets a console socket.
    pub fn console_left(&self, conn: ConnId) {
        self.inner.lock().unwrap().consoles.remove(&conn);
    }

    /// The site of a visitor online on this node.
    pub fn site_of(&self, visitor_id: &str) -> Option<i64> {
        self.inner.lock().unwrap().visitors.get(visitor_id).map(|v| v.site_id)
    }

    /// Sends a frame to every console that works on the site, on every node.
    pub fn to_consoles(&self, site_id: i64, frame: &Bytes) {
        self.local_consoles(site_id, frame);
        self.publish(Target::Consoles(site_id), frame);
    }

    fn local_consoles(&self, site_id: i64, frame: &Bytes) {
        for c in self.inner.lock().unwrap().consoles.values().filter(|c| c.access.allows(site_id)) {
            c.peer.send(frame.clone());
        }
    }

    /// Sends a frame to every console of one consultant, on every node.
    pub fn to_user(&self, user_id: i64, frame: &Bytes) {
        self.local_user(user_id, frame);
        self.publish(Target::User(user_id), frame);
    }

    fn local_user(&self, user_id: i64, frame: &Bytes) {
        for c in self.inner.lock().unwrap().consoles.values().filter(|c| c.user_id == user_id) {
            c.peer.send(frame.clone());
        }
    }
}
